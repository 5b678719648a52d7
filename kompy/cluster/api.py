"""The built-in cluster's HTTP API server: a subset of the Kubernetes REST API.

``http.server.ThreadingHTTPServer`` (standard library, one thread per connection) is enough
here: the clients are a handful of controllers, the kubelet and the CLI on one machine, each
watch holds one thread that sleeps on a condition, and HTTP/1.1 keep-alive makes a request
cost a fraction of a millisecond of server time (see benchmarks/bench_api.py). It binds to
127.0.0.1 only and every request except ``/healthz`` must carry the cluster's bearer token
(compared in constant time): other users of the machine cannot reach the cluster. It speaks
TLS with the cluster's own certificate (tls.py), because kubectl sends tokens only over TLS.

Exec is non-interactive: ``POST .../pods/NAME/exec?command=sh&command=-c&command=...``
(``container=``, optional ``stdin=true`` with the request body as standard input) answers
200 with the combined output as the body and the exit code in the ``Kompy-Exit-Code`` header.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kompy.client import resources
from kompy.client.errors import ApiError, NotFound, status_body
from kompy.client.rest import EXIT_CODE_HEADER
from kompy.cluster.api_handlers import VERSION, Api, Route, bad_request
from kompy.cluster.api_views import as_table, openapi_v3, table_event
from kompy.cluster.store import Store

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
        allowed |= {"log", "exec"}
    if res.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        allowed.add("scale")
    if sub is not None and sub not in allowed:
        raise NotFound(404, "NotFound", f"{res.plural} have no subresource {sub!r}")
    return Route(res, namespace, name, sub)


class Handler(BaseHTTPRequestHandler):
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

    # -- plumbing ----------------------------------------------------------------------------

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, error: ApiError) -> None:
        details = (error.body or {}).get("details")
        self._send_json(error.status, status_body(error.status, error.reason, error.message,
                                                  details))

    def _stream(self, chunks: Iterator[bytes], content_type: str, prefetch: bool = True
                ) -> None:
        """Chunked transfer encoding; ends when the iterator does or the client goes away.

        With ``prefetch`` the first chunk is read before the status line, so an error the
        source raises at once (a pod's log not available yet) is still answered with a
        proper Status. Watches answer at once instead: they may wait long for a first event.
        """
        first = next(chunks, b"") if prefetch else b""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in itertools.chain((first,), chunks):
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

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        raw = self._body()
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise bad_request(f"the request body is not valid JSON: {e}") from e

    def _authorized(self, path: str) -> bool:
        if path in UNAUTHENTICATED:
            return True
        header = self.headers.get("Authorization") or ""
        expected = f"Bearer {self.server.token}"
        return hmac.compare_digest(header.encode(), expected.encode())

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path.rstrip("/") or "/"
        try:
            if not self._authorized(path):
                self._body()
                raise ApiError(401, "Unauthorized", "Unauthorized: a valid bearer token is "
                                                    "required")
            self._dispatch(method, path, query)
        except ApiError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # noqa: BLE001 - the server must survive any request
            log.exception("%s %s failed", method, self.path)
            self._send_error(ApiError(500, "InternalError",
                                      f"internal error: {type(error).__name__}: {error}"))

    do_GET = lambda self: self._handle("GET")  # noqa: E731
    do_POST = lambda self: self._handle("POST")  # noqa: E731
    do_PUT = lambda self: self._handle("PUT")  # noqa: E731
    do_PATCH = lambda self: self._handle("PATCH")  # noqa: E731
    do_DELETE = lambda self: self._handle("DELETE")  # noqa: E731

    # -- routing -----------------------------------------------------------------------------

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        api = self.server.api
        one = {k: v[-1] for k, v in query.items()}
        if path in UNAUTHENTICATED:
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path == "/version":
            return self._send_json(200, VERSION)
        if path.startswith("/openapi/v3"):
            return self._send_json(200, openapi_v3(path))
        if path == "/api":
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            return self._send_json(200, api.group_list())
        parts = path.strip("/").split("/")
        route = parse_route(parts)
        if route is None:
            if parts[0] == "api" and len(parts) == 2:
                return self._send_json(200, api.resource_list("", parts[1]))
            if parts[0] == "apis" and len(parts) == 3:
                return self._send_json(200, api.resource_list(parts[1], parts[2]))
            raise NotFound(404, "NotFound", f"the server could not find the requested "
                                            f"resource: {path}")
        if route.subresource in ("log", "exec"):
            return self._pod_io(method, route, query, one)
        if route.subresource == "scale":
            scale = self._json_body() if method in ("PUT", "PATCH") else None
            return self._send_json(200, api.scale(route, method, scale,
                                                  self.headers.get("Content-Type") or ""))
        self._crud(method, route, one)

    def _crud(self, method: str, route: Route, one: dict[str, str]) -> None:
        api = self.server.api
        if method == "GET" and route.name is None:
            if one.get("watch") in ("true", "1"):
                events = api.watch(route, one.get("resourceVersion"), one.get("labelSelector"),
                                   one.get("fieldSelector"), _float(one.get("timeoutSeconds")),
                                   one.get("allowWatchBookmarks") == "true")
                if self._wants_table():
                    events = (table_event(route.res.plural, e) for e in events)
                lines = (json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)
                return self._stream(lines, "application/json", prefetch=False)
            listing = api.list(route, one.get("labelSelector"), one.get("fieldSelector"))
            if self._wants_table():
                return self._send_json(200, as_table(route.res.plural, listing["items"],
                                                     listing["metadata"]))
            return self._send_json(200, listing)
        if method == "GET":
            obj = api.get(route)
            if self._wants_table():
                return self._send_json(200, as_table(route.res.plural, [obj], {}))
            return self._send_json(200, obj)
        if method == "POST" and route.name is None:
            return self._send_json(201, api.create(route, self._json_body()))
        if method == "PUT" and route.name:
            return self._send_json(200, api.update(route, self._json_body()))
        if method == "PATCH" and route.name:
            content_type = self.headers.get("Content-Type") or "application/merge-patch+json"
            return self._send_json(200, api.patch(route, self._json_body(), content_type))
        if method == "DELETE" and route.name:
            body = self._json_body() if self.headers.get("Content-Length") else None
            grace = one.get("gracePeriodSeconds")
            if grace is None and isinstance(body, dict):
                grace = body.get("gracePeriodSeconds")
            left = api.delete(route, None if grace is None else int(grace))
            return self._send_json(200, left)
        self._body()
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here")

    def _wants_table(self) -> bool:
        """kubectl asks for server-side printing (``as=Table``); clients that do not
        get the objects themselves."""
        accept = self.headers.get("Accept") or ""
        return "as=Table" in accept

    def _pod_io(self, method: str, route: Route, query: dict[str, list[str]],
                one: dict[str, str]) -> None:
        api = self.server.api
        _, container = api.pod_container(route, one.get("container"))
        assert route.namespace and route.name
        if route.subresource == "log" and method == "GET":
            tail = one.get("tailLines")
            chunks = api.io().logs(route.namespace, route.name, container,
                                   follow=one.get("follow") == "true",
                                   previous=one.get("previous") == "true",
                                   tail_lines=int(tail) if tail else None)
            return self._stream(chunks, "text/plain")
        if route.subresource == "exec" and self.headers.get("Upgrade"):
            self._body()
            raise ApiError(400, "BadRequest", "kompy's API server runs exec without a "
                                              "streaming (SPDY/WebSocket) connection; use "
                                              "`kompy exec POD -- COMMAND`")
        if route.subresource == "exec" and method == "POST":
            stdin = self._body() if one.get("stdin") == "true" else (self._body() and None)
            command = query.get("command") or []
            if not command:
                raise bad_request("exec needs at least one command parameter")
            code, output = api.io().exec(route.namespace, route.name, container, command, stdin)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(output)))
            self.send_header(EXIT_CODE_HEADER, str(code))
            self.end_headers()
            self.wfile.write(output)
            return None
        self._body()
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {route.subresource}")


def _float(text: str | None) -> float | None:
    return float(text) if text else None


class ApiHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, api: Api, token: str, host: str = "127.0.0.1", port: int = 0,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.api = api
        self.token = token
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        super().__init__((host, port), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.socket = context.wrap_socket(self.socket, server_side=True,
                                              do_handshake_on_connect=False)

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


class ApiServer:
    """The API server over a store, serving in a background thread."""

    def __init__(self, store: Store, token: str, port: int = 0,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.api = Api(store)
        self.httpd = ApiHTTPServer(self.api, token, "127.0.0.1", port, tls)
        self.port = int(self.httpd.server_address[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ca = str(tls[0]) if tls else None
        self.token = token
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,),
                                        name="api-server", daemon=True)

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
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


__all__ = ["ApiServer", "HTTPStatus", "parse_route"]
