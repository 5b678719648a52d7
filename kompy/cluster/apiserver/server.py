"""The built-in cluster's HTTP API server: a subset of the Kubernetes REST API.

``http.server.ThreadingHTTPServer`` (standard library, one thread per connection) is enough
here: the clients are a handful of controllers, the kubelet and the CLI on one machine, each
watch holds one thread that sleeps on a condition, and HTTP/1.1 keep-alive makes a request
cost a fraction of a millisecond of server time (see benchmarks/bench_api.py). It binds to
127.0.0.1 only and every request except ``/healthz`` must carry a bearer token, the cluster's
own or one of its token file (authn.py): other users of the machine cannot reach the
cluster. It speaks TLS with the cluster's own certificate (tls.py), because kubectl sends
tokens only over TLS. The token is checked on the headers, before any byte of a body is
read; bodies are bounded and streams end when their client hangs up (httpio.py).

Exec, attach and port-forward are upgraded connections (WebSocket, SPDY): streams.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from kompy.client import resources
from kompy.client.errors import ApiError, Conflict, NotFound, status_body
from kompy.client.resources import RBAC_GROUP
from kompy.cluster.apiserver import (
    authz,
    discovery,
    hpav1,
    httpio,
    impersonation,
    metricsapi,
    openapi,
    params,
    rbacadmission,
    streams,
    warning,
)
from kompy.cluster.apiserver.authn import TokenAuthenticator, UserInfo
from kompy.cluster.apiserver.decode import decode
from kompy.cluster.apiserver.eviction import evict
from kompy.cluster.apiserver.handlers import (
    APPLY_PATCH,
    VERSION,
    Api,
    Route,
    bad_request,
)
from kompy.cluster.apiserver.rbac import RbacAuthorizer
from kompy.cluster.apiserver.rbacpolicy import bootstrap_policy
from kompy.cluster.apiserver.saadmission import ServiceAccountAdmission
from kompy.cluster.apiserver.satokens import TokenIssuer
from kompy.cluster.apiserver.serviceaccounts import ServiceAccountTokens
from kompy.cluster.apiserver.storedforms import canonicalize_stored
from kompy.cluster.apiserver.views import as_table, table_event
from kompy.cluster.store.maintenance import Maintenance
from kompy.cluster.store.sqlite import Store

log = logging.getLogger(__name__)

UNAUTHENTICATED = ("/healthz", "/livez", "/readyz")


def parse_route(parts: list[str]) -> Route | None:
    """``/api/v1/namespaces/ns/pods/name/log`` -> Route; None for discovery paths."""
    if parts[0] == "api" and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    res = resources.find(group, version, rest[0])
    if res is None:
        gv = f"{group}/{version}" if group else version
        raise NotFound(404, "NotFound", f"the server could not find the requested resource: "
                                        f"{rest[0]} in {gv}")
    if len(rest) > 3:
        raise NotFound(404, "NotFound", "the server could not find the requested resource")
    if namespace and not res.namespaced:
        raise NotFound(404, "NotFound", f"{res.plural} are not namespaced")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    allowed = {"status"} if res.has_status else set()
    if res.kind == "Pod":
        allowed |= {"log", "exec", "attach", "portforward", "eviction"}
    if res.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        allowed.add("scale")
    if res.kind == "ServiceAccount":
        allowed.add("token")
    if sub is not None and sub not in allowed:
        raise NotFound(404, "NotFound", f"{res.plural} have no subresource {sub!r}")
    return Route(res, namespace, name, sub)


@dataclass
class Reply:
    """An answer, independent of how it travels (HTTP here, in-process through
    kompy/client/loopback.py)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None   # a chunked body (watches, logs) instead of body
    # Ends ``stream`` from another thread (its client went away); any thread may call it.
    cancel: Callable[[], None] | None = None


class Headers(Protocol):
    def get(self, name: str, default: None = None) -> str | None: ...


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body, separators=(",", ":")).encode(),
                 headers=headers or {})


def error_reply(error: ApiError) -> Reply:
    details = (error.body or {}).get("details")
    return json_reply(error.status, status_body(error.status, error.reason, error.message,
                                                details))


class Router:
    """The API server's request handling: authentication, routing, and the endpoints.

    Transport-independent, so the daemon's own controllers can call it in-process (no TLS,
    no HTTP parsing, no socket: most of their per-request CPU) through the same KubeClient
    every other client uses (see kompy/client/loopback.py)."""

    def __init__(self, api: Api, token: str, token_file: Path | None = None,
                 authorizer: authz.Authorizer | None = None,
                 issuer: TokenIssuer | None = None) -> None:
        self.api = api
        self.token = token
        self.service_accounts = ServiceAccountTokens(api.store,
                                                     issuer or TokenIssuer.ephemeral())
        self.authn = TokenAuthenticator(token, token_file, self.service_accounts.authenticate)
        self.rbac = RbacAuthorizer(api.store)
        # Every request is authorized here (RBAC; the benchmark swaps in AllowAuthenticated).
        self.authorizer: authz.Authorizer = authorizer or self.rbac
        api.admitters.append(ServiceAccountAdmission(api.store))
        api.admitters.append(self._admit_rbac)
        bootstrap_policy(api)

    def _admit_rbac(self, res: resources.Resource, obj: Any, old: Any) -> None:
        if res.group == RBAC_GROUP:
            rbacadmission.check_write(self.rbac, authz.current_user(), res, obj, old)

    def user_of(self, headers: Headers) -> UserInfo:
        """The user a request acts as: its token's, or the one it impersonates (when its
        token's user may). 401 without a valid token."""
        user = self.authn.authenticate(headers.get("Authorization"))
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized: a valid bearer token is required")
        if impersonation.wanted(headers):
            return impersonation.impersonate(self.authorizer, user, headers)
        return user

    def authorize_upgrade(self, headers: Headers, route: Route) -> None:
        """exec, attach and port-forward need ``create`` on their subresource, whichever
        protocol (kube-apiserver asks ``create`` of WebSocket GETs too since
        AuthorizePodWebsocketUpgradeCreatePermission, so ``get`` alone opens no shell)."""
        user = self.user_of(headers)
        res = route.res
        self.authorize(authz.Attributes(user, "create", route.namespace or "", res.group,
                                        res.version, res.plural, route.subresource or "",
                                        route.name or ""))

    def authorize(self, attributes: authz.Attributes) -> None:
        decision, reason = self.authorizer.authorize(attributes)
        if decision is not authz.Decision.ALLOW:
            raise authz.forbidden(attributes, reason)

    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> Reply:
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        try:
            refusal = self.refuse(path, headers)
            if refusal is not None:
                raise refusal
            query = parse_qs(url.query, keep_blank_values=True)
            user = None if path in UNAUTHENTICATED else self.user_of(headers)
            with warning.collecting() as warnings, authz.acting_as(user):
                reply = self._dispatch(method, path, query, headers, body, user)
            if warnings:
                reply.headers["Warning"] = warning.header(warnings)
            return reply
        except ApiError as error:
            return error_reply(error)
        except Exception as error:  # noqa: BLE001 - the server must survive any request
            log.exception("%s %s failed", method, target)
            return error_reply(ApiError(500, "InternalError",
                                        f"internal error: {type(error).__name__}: {error}"))

    def refuse(self, path: str, headers: Headers) -> ApiError | None:
        """Why a request is refused on its path and headers alone (before its body is
        read), or None."""
        if self.api.closing.is_set():
            # In-process clients would otherwise reconnect their watches in a tight loop
            # while the daemon stops (an HTTP client gets connection refused instead).
            return ApiError(503, "ServiceUnavailable", "the API server is shutting down")
        if path not in UNAUTHENTICATED and \
                self.authn.authenticate(headers.get("Authorization")) is None:
            return ApiError(401, "Unauthorized", "Unauthorized: a valid bearer token is "
                                                 "required")
        return None

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]], headers: Headers,
                  body: bytes, user: UserInfo | None) -> Reply:
        api = self.api
        if path in UNAUTHENTICATED:
            return Reply(200, b"ok", "text/plain")
        assert user is not None     # refuse() let only authenticated requests through
        if not _resource_path(path):
            # Discovery, /version and /openapi: non-resource URLs (system:discovery).
            self.authorize(authz.Attributes(user, "get" if method in ("GET", "HEAD")
                                            else method.lower(), path=path))
        if path == "/version":
            return json_reply(200, VERSION)
        if path.startswith("/openapi/"):
            answer = openapi.serve(api.openapi, path, {k: v[-1] for k, v in query.items()},
                                   headers.get("Accept"), headers.get("If-None-Match"))
            if answer is None:
                raise NotFound(404, "NotFound", f"the server could not find the requested "
                                                f"resource: {path}")
            return Reply(answer.status, answer.body, answer.content_type, answer.headers)
        if path in ("/api", "/apis"):
            version = discovery.aggregated_version(headers.get("Accept"))
            if version is not None:
                reply = json_reply(200, discovery.aggregated(path == "/api", version))
                reply.content_type = discovery.content_type(version)
                return reply
            return json_reply(200, discovery.core_versions() if path == "/api"
                              else discovery.group_list())
        found = authz.review_route(path)
        if found is not None:
            review, review_ns = found
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here: "
                                                        f"{review[2]} are create-only")
            self.authorize(authz.Attributes(user, "create", review_ns, review[0], review[1],
                                            review[2], path=path))
            return json_reply(201, authz.review(self.authorizer, user, review,
                                                _body(body, headers), review_ns))
        parts = path.strip("/").split("/")
        metrics = metricsapi.route(parts)
        if metrics is not None:
            return self._metrics(method, path, metrics, query, user)
        v2 = hpav1.v2_path(parts)
        if v2 is not None:
            return self._hpa_v1(method, v2, query, headers, body, user)
        route = parse_route(parts)
        if route is None:
            if parts[0] == "api" and len(parts) == 2:
                return json_reply(200, discovery.resource_list("", parts[1]))
            if parts[0] == "apis" and len(parts) == 3:
                return json_reply(200, discovery.resource_list(parts[1], parts[2]))
            raise NotFound(404, "NotFound", f"the server could not find the requested "
                                            f"resource: {path}")
        one = {k: v[-1] for k, v in query.items()}
        self._authorize(user, method, path, route, one.get("watch") in ("true", "1"))
        if route.subresource in ("exec", "attach", "portforward"):
            # kube-apiserver's answer to a streaming request that is not an upgrade.
            raise bad_request("Upgrade request required")
        if route.subresource == "log":
            return self._pod_io(method, route, query, one, headers, body)
        if route.subresource == "eviction":
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on eviction")
            return json_reply(201, evict(api, route, _body(body, headers),
                                         params.write_options(one, query, headers).dry_run))
        if route.subresource == "token":
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on "
                                                        "serviceaccounts/token: it is create-only")
            assert route.namespace and route.name
            return json_reply(201, self.service_accounts.token_request(
                route.namespace, route.name, _body(body, headers)))
        if route.subresource == "scale":
            scale = _body(body, headers) if method in ("PUT", "PATCH") else None
            return json_reply(200, api.scale(route, method, scale,
                                             headers.get("Content-Type") or "",
                                             params.write_options(one, query, headers)))
        return self._crud(method, route, one, headers, body, query)

    def _metrics(self, method: str, path: str, route: metricsapi.MetricsRoute,
                 query: dict[str, list[str]], user: UserInfo) -> Reply:
        attributes = authz.request_attributes(user, method, path, route.namespace,
                                              metricsapi.GROUP, metricsapi.VERSION,
                                              route.plural, None, route.name, False)
        decision, reason = self.authorizer.authorize(attributes)
        if decision is not authz.Decision.ALLOW:
            raise authz.forbidden(attributes, reason)
        return json_reply(200, metricsapi.serve(self.api.metrics, method, route,
                                                {k: v[-1] for k, v in query.items()}))

    def _hpa_v1(self, method: str, v2: str, query: dict[str, list[str]], headers: Headers,
                body: bytes, user: UserInfo) -> Reply:
        """autoscaling/v1 HPAs: the request converted to v2, the answer back (hpav1.py)."""
        content_type = (headers.get("Content-Type") or "application/json").lower()
        if method == "PATCH" and not content_type.startswith(APPLY_PATCH):
            return self._hpa_v1_patch(v2, query, headers, body, user, content_type)
        if body and method in ("POST", "PUT", "PATCH"):
            converted = hpav1.to_v2(_body(body, headers))
            body = json.dumps(converted).encode()
            headers = hpav1.JsonHeaders(headers, APPLY_PATCH if method == "PATCH"
                                        else "application/json")
        reply = self._dispatch(method, v2, query, headers, body, user)
        hpav1.convert_reply(reply)
        return reply

    def _hpa_v1_patch(self, v2: str, query: dict[str, list[str]], headers: Headers,
                      body: bytes, user: UserInfo, content_type: str) -> Reply:
        """A v1 patch: applied to the v1 view of the stored object, written back as a v2
        update; tried again on a conflict (the HPA controller writes its status often), as
        kube-apiserver's patch loop does, so a patch never fails for a concurrent write."""
        route = parse_route(v2.strip("/").split("/"))
        assert route is not None
        patch = _body(body, headers)
        conflicts = 0
        while True:
            current = self.api.get(Route(route.res, route.namespace, route.name, None))
            updated = hpav1.patched(current, patch, content_type)
            try:
                reply = self._dispatch("PUT", v2, query, hpav1.JsonHeaders(headers),
                                       json.dumps(updated).encode(), user)
            except Conflict:
                conflicts += 1
                if conflicts == 5:
                    raise
                continue
            hpav1.convert_reply(reply)
            return reply

    def _authorize(self, user: UserInfo, method: str, path: str, route: Route,
                   watch: bool) -> None:
        res = route.res
        attributes = authz.request_attributes(user, method, path, route.namespace, res.group,
                                              res.version, res.plural, route.subresource,
                                              route.name, watch)
        self.authorize(attributes)

    def _crud(self, method: str, route: Route, one: dict[str, str], headers: Headers,
              body: bytes, query: dict[str, list[str]]) -> Reply:
        api = self.api
        table = "as=Table" in (headers.get("Accept") or "")  # kubectl's server-side printing
        if method == "GET" and route.name is None:
            if one.get("watch") in ("true", "1"):
                return self._watch(route, one, table)
            listing = api.list(route, one.get("labelSelector"), one.get("fieldSelector"))
            if table:
                return json_reply(200, as_table(route.res.plural, listing["items"],
                                                listing["metadata"], one.get("includeObject")))
            return json_reply(200, listing)
        if method == "GET":
            obj = api.get(route)
            return json_reply(200, as_table(route.res.plural, [obj], {},
                                            one.get("includeObject")) if table else obj)
        validation = one.get("fieldValidation") or "Warn"
        options = params.write_options(one, query, headers)
        if method == "POST" and route.name is None:
            return json_reply(201, api.create(route, _body(body, headers), validation,
                                              options))
        if method == "PUT" and route.name:
            return json_reply(200, api.update(route, _body(body, headers), validation,
                                              options))
        if method == "PATCH" and route.name:
            content_type = headers.get("Content-Type") or "application/merge-patch+json"
            if content_type.split(";", 1)[0].strip().lower() == APPLY_PATCH:
                applied, created = api.apply(route, _body(body, headers), validation, options)
                return json_reply(201 if created else 200, applied)
            return json_reply(200, api.patch(route, _body(body, headers), content_type,
                                             validation, options))
        if method == "DELETE" and route.name is None and route.subresource is None:
            return json_reply(200, api.delete_collection(
                route, one.get("labelSelector"), one.get("fieldSelector"),
                params.int_param(one, "gracePeriodSeconds"), options.dry_run))
        if method == "DELETE" and route.name:
            delete_options = _body(body, headers)
            grace = params.int_param(one, "gracePeriodSeconds")
            if grace is None and isinstance(delete_options, dict):
                given = delete_options.get("gracePeriodSeconds")
                if given is not None and (not isinstance(given, int) or isinstance(given, bool)):
                    raise bad_request("DeleteOptions.gracePeriodSeconds must be an integer")
                grace = given
            dry_run = options.dry_run or (isinstance(delete_options, dict) and
                                          delete_options.get("dryRun") == ["All"])
            propagation = one.get("propagationPolicy") or (
                delete_options.get("propagationPolicy")
                if isinstance(delete_options, dict) else None)
            return json_reply(200, api.delete(route, grace, dry_run, propagation))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here")

    def _watch(self, route: Route, one: dict[str, str], table: bool) -> Reply:
        cancelled = threading.Event()
        events = self.api.watch(route, one.get("resourceVersion"), one.get("labelSelector"),
                                one.get("fieldSelector"),
                                params.int_param(one, "timeoutSeconds"),
                                one.get("allowWatchBookmarks") == "true", cancelled)
        source = events
        lines: Iterator[bytes] = (e.encode() + b"\n" for e in events)
        if table:
            lines = (json.dumps(table_event(route.res.plural, e.as_dict(),
                                            one.get("includeObject")),
                                separators=(",", ":")).encode() + b"\n" for e in events)

        def cancel() -> None:
            cancelled.set()
            self.api.store.wake(route.res.plural)
        # Answered at once, without waiting for a first event: a watch may wait long for one.
        return Reply(200, stream=_closing(lines, source), cancel=cancel)

    def _pod_io(self, method: str, route: Route, query: dict[str, list[str]],
                one: dict[str, str], headers: Headers, body: bytes) -> Reply:
        api = self.api
        _, container = api.pod_container(route, one.get("container"))
        assert route.namespace and route.name
        if route.subresource == "log" and method == "GET":
            chunks = api.io().logs(route.namespace, route.name, container,
                                   follow=one.get("follow") == "true",
                                   previous=one.get("previous") == "true",
                                   tail_lines=params.int_param(one, "tailLines"),
                                   since=params.log_since(one),
                                   timestamps=one.get("timestamps") == "true")
            # The first chunk is read before answering, so an error the source raises at once
            # (a pod's log not available yet) is still a proper Status.
            first = next(chunks, b"")
            return Reply(200, content_type="text/plain",
                         stream=_closing(itertools.chain((first,), chunks), chunks))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {route.subresource}")


def _resource_path(path: str) -> bool:
    """``/api/v1/pods...`` or ``/apis/GROUP/VERSION/...``: not discovery, not /version."""
    parts = path.strip("/").split("/")
    return (parts[0] == "api" and len(parts) >= 3) or (parts[0] == "apis" and len(parts) >= 4)


def _closing(chunks: Iterator[bytes], source: Iterator[Any]) -> Iterator[bytes]:
    """``chunks``, closing ``source`` (a watch's store cursor, a log stream) when the consumer
    stops early, whichever transport carries them."""
    try:
        yield from chunks
    finally:
        close = getattr(source, "close", None)
        if close:
            close()


def _body(raw: bytes, headers: Headers) -> Any:
    return decode(raw, headers.get("Content-Type") or "application/json")


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 (over TLS) in front of the Router."""

    server: ApiHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK (40 ms per request on Linux).
    disable_nagle_algorithm = True
    # An idle keep-alive connection (or a client that vanished) frees its thread after this.
    timeout = 600

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, in the connection's thread, not in the accept loop.
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.client_address[0], *args)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """What http.server answers itself (a malformed request line, headers too long, a
        method it has no do_X for) as a Status, like every other answer; an unknown method
        is a 405, as kube-apiserver answers verbs a resource does not serve."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = 405, f"{self.command} is not allowed here"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Bad Request"
        self.close_connection = True
        reply = error_reply(ApiError(code, phrase.replace(" ", ""), message or phrase))
        self.send_response(code)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def handle_expect_100(self) -> bool:
        # "Expect: 100-continue" is answered once the headers are authenticated and the body
        # is known to fit (in _handle), not before: a refused client need not send it at all.
        self._expect_continue = True
        return True

    def _handle(self, method: str) -> None:
        if streams.is_upgrade(self.headers):
            self._upgrade(method)
            return
        router = self.server.router
        path = urlsplit(self.path).path.rstrip("/") or "/"
        expect_continue, self._expect_continue = getattr(self, "_expect_continue", False), False
        refusal = router.refuse(path, self.headers)
        body = b""
        if refusal is None:
            try:
                if expect_continue:
                    self.send_response_only(100)
                    self.end_headers()
                self.connection.settimeout(httpio.BODY_TIMEOUT_SECONDS)
                body = httpio.read_body(self.rfile, self.headers, httpio.body_limit(path))
                self.connection.settimeout(self.timeout)
            except httpio.BodyError as error:
                refusal = error
            except (OSError, ConnectionError):
                # The client went away or stalled half-way through its body: nobody to answer.
                self.close_connection = True
                return
        if refusal is not None:
            # The body, if any, is unread: answer, then close the connection (lingering, so
            # the client reads the answer rather than a reset).
            self.close_connection = True
            answer = error_reply(refusal)
            answer.headers["Connection"] = "close"
            try:
                self._write(answer)
                self.wfile.flush()
            except OSError:
                return
            httpio.linger(self.connection)
            return
        reply = router.handle(method, self.path, self.headers, body)
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _upgrade(self, method: str) -> None:
        """exec, attach and port-forward: the connection is the session's from here on."""
        self.close_connection = True
        head = self.requestline.encode("latin-1") + b"\r\n" + b"".join(
            f"{key}: {value}\r\n".encode("latin-1") for key, value in self.headers.items()
        ) + b"\r\n"
        request = streams.Upgrade(method, self.path, self.headers, head, self.connection)
        streams.serve(self.server.router, request,
                      lambda error: self._write(error_reply(error)), parse_route)

    do_GET = lambda self: self._handle("GET")  # noqa: E731
    do_POST = lambda self: self._handle("POST")  # noqa: E731
    do_PUT = lambda self: self._handle("PUT")  # noqa: E731
    do_PATCH = lambda self: self._handle("PATCH")  # noqa: E731
    do_DELETE = lambda self: self._handle("DELETE")  # noqa: E731

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.stream is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if reply.cancel is None:
            self._stream(reply.stream)
            return
        self.server.hangups.add(self.connection, reply.cancel)
        try:
            self._stream(reply.stream)
        finally:
            self.server.hangups.remove(self.connection)

    def _stream(self, chunks: Iterator[bytes]) -> None:
        """Chunked transfer encoding; ends when the iterator does or the client goes away."""
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            # The client went away: a closed pipe, a reset, or over TLS an SSLError (an
            # OSError too) when it closes a watch it asked to end with timeoutSeconds.
            log.debug("stream of %s ended by the client", self.path, exc_info=True)
            self.close_connection = True
        except Exception:  # noqa: BLE001 - headers are sent: end the stream, keep serving
            log.exception("stream of %s failed", self.path)
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()


def _server_context(tls: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    return context


class ApiHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, router: Router, host: str = "127.0.0.1", port: int = 0,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.router = router
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.context = _server_context(tls) if tls else None
        # Before the bind: a bind that fails (the port is taken) calls server_close, which
        # closes the monitor, and raises the OSError the caller reports.
        self.hangups = httpio.HangupMonitor()
        super().__init__((host, port), Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = self.socket.accept()
        context = self.context  # read once: a reload replaces the whole context
        if context is None:
            return conn, address
        return context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), address

    def reload_certificate(self, tls: tuple[Path, Path]) -> None:
        """Serve another certificate from the next connection on (one naming a new address
        of the API server's Service); connections already made keep theirs. A new context is
        swapped in whole: loading into the live one leaves a moment with the new certificate
        and no key, and a handshake in that moment fails."""
        if self.context is not None:
            self.context = _server_context(tls)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that speaks plain HTTP to the TLS port, or hangs up mid-handshake.
        log.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """End keep-alive connections and streams, whose threads outlive serve_forever."""
        with self.lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        super().server_close()
        self.hangups.close()


class ApiServer:
    """The API server over a store, serving in a background thread."""

    def __init__(self, store: Store, token: str, port: int = 0,
                 tls: tuple[Path, Path] | None = None, token_file: Path | None = None,
                 issuer: TokenIssuer | None = None,
                 authorizer: authz.Authorizer | None = None, ca: Path | None = None) -> None:
        self.api = Api(store)
        # Before anything is served: no client ever sees an object in an earlier form.
        canonicalize_stored(store, self.api.schemas)
        self.router = Router(self.api, token, token_file, authorizer, issuer)
        self.httpd = ApiHTTPServer(self.router, "127.0.0.1", port, tls)
        self.port = int(self.httpd.server_address[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # The CA clients trust: the serving certificate's issuer, else itself (self-signed).
        self.ca = str(ca or tls[0]) if tls else None
        self.token = token
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,),
                                        name="api-server", daemon=True)
        self.maintenance = Maintenance(store, chores=[self.api.expire_events])

    def start(self) -> ApiServer:
        self._thread.start()
        self.maintenance.start()
        return self

    def stop(self) -> None:
        self.maintenance.stop()
        self.api.closing.set()
        self.api.store.wake()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.close_connections()
        # Let handler threads notice before the caller closes the store under them.
        deadline = time.monotonic() + 2.0
        while self.httpd.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        self._thread.join(timeout=5)

    def set_pod_io(self, pod_io: Any) -> None:
        self.api.pod_io = pod_io

    def set_metrics(self, source: Any) -> None:
        """The collector that answers metrics.k8s.io (cluster/metrics/)."""
        self.api.metrics = source


__all__ = ["ApiServer", "HTTPStatus", "Reply", "Router", "parse_route"]
