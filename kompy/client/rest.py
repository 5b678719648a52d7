"""KubeClient: the one Kubernetes REST client of kompy (built-in cluster and real clusters).

Built on ``requests`` (one keep-alive Session per client). JSON in, JSON out; errors are
turned into kompy.client.errors types from the server's Status bodies. ``watch`` is an
iterator of ``(type, object)`` that reconnects from the last resourceVersion it saw, so a
dropped connection or a server-side timeout loses no event (a too-old resourceVersion
raises Gone: re-list and watch again, as client-go's reflector does).
"""

from __future__ import annotations

import builtins
import datetime as _dt
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3

from kompy.client import applied, kubeconfig, remotecommand, resources
from kompy.client.auth import Credentials, ServerNameAdapter, proxies_for
from kompy.client.errors import ApiError, Conflict, Gone, NotFound, error_from_status
from kompy.errors import ClusterError, ClusterUnreachable

log = logging.getLogger(__name__)

LAST_APPLIED = applied.LAST_APPLIED
# A watch keeps retrying a server that stopped answering for this long before giving up.
WATCH_RETRY_SECONDS = 30.0
# How long a bounded watch waits for its next byte beyond the ``timeoutSeconds`` the server
# was given (the server ends the stream by then): a stalled server or a half-open connection
# ends it, as a server-side timeout does, instead of holding its caller (``kompy down``'s
# waits, the dev loop's rollout wait) for the hour an unbounded watch allows between bytes.
WATCH_GRACE_SECONDS = 15.0
UNBOUNDED_WATCH_IDLE_SECONDS = 3600.0


# The Warning response header (RFC 7234: warn-code, agent, quoted text, optional date), as
# kube-apiserver sends warnings: ``299 - "text"``, several separated by commas.
_WARNING = re.compile(r'\s*\d{3} \S+ "((?:[^"\\]|\\.)*)"(?: "[^"]*")?\s*(?:,|$)')


def parse_warnings(header: str) -> list[str]:
    """The texts of a ``Warning`` header (client-go's ParseWarningHeaders)."""
    return [re.sub(r"\\(.)", r"\1", m.group(1)) for m in _WARNING.finditer(header)]


def _log_warning(text: str) -> None:
    log.warning("%s", text)


def _first_line(error: BaseException) -> str:
    text = str(error.__context__ or error)
    for marker in ("certificate verify failed", "wrong version number"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(error).__name__


def healthy(server: str, ca: str | None = None, timeout: float = 3.0) -> bool:
    """Whether the API server at ``server`` answers ``/healthz`` with 200 (no credentials
    needed); ``ca``: the CA bundle that signed its certificate."""
    try:
        return requests.get(f"{server}/healthz", timeout=timeout,
                            verify=ca or True).status_code == 200
    except requests.RequestException:
        return False


def _without_bookkeeping(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without what changes under it without anyone changing it: its status,
    resourceVersion and managed fields (their timestamps)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


class KubeClient:
    def __init__(self, conn: kubeconfig.Connection, *, timeout: float = 30.0) -> None:
        self.conn = conn
        self.server = conn.server
        self.namespace = conn.namespace
        self.timeout = timeout
        self.credentials = Credentials(conn)
        self._proxies = proxies_for(conn)
        self.session = requests.Session()
        self.session.verify = conn.verify
        if conn.verify is False:
            # insecure-skip-tls-verify was asked for: kubectl says nothing each request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if conn.tls_server_name:
            self.session.mount(conn.server, ServerNameAdapter(conn.tls_server_name))
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "kompy"
        # Where the server's warnings go (kubectl prints them as "Warning: ..."; the CLI
        # sets that); by default they are logged.
        self.on_warning: Callable[[str], None] = _log_warning
        if conn.disable_compression:
            self.session.headers["Accept-Encoding"] = "identity"

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None, *,
                        overrides: kubeconfig.Overrides | None = None) -> KubeClient:
        return cls(kubeconfig.connection(path, context, overrides=overrides))

    @classmethod
    def for_server(cls, server: str, token: str, namespace: str = "default",
                   ca: str | None = None) -> KubeClient:
        """A client of ``server``; ``ca``: the CA bundle that signed its certificate."""
        return cls(kubeconfig.Connection(server=server, token=token, namespace=namespace,
                                         verify=ca or True))

    # -- plumbing ---------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Any = None, body: Any = None,
                data: bytes | None = None, content_type: str = "application/json",
                stream: bool = False, timeout: float | None = -1.0) -> requests.Response:
        """One request; ``timeout`` -1 means the client's default, None waits for ever
        (``logs -f``)."""
        headers: dict[str, str] = {}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        used = self.credentials.authorize(headers)
        response = self._send(method, path, params, data, headers, stream, timeout, used)
        if response.status_code == 401 and self.credentials.unauthorized(used):
            # A rotated credential (an exec plugin run again, a re-read tokenFile): once more.
            response.close()
            used = self.credentials.authorize(headers)
            response = self._send(method, path, params, data, headers, stream, timeout, used)
        if "Warning" in response.headers:
            for text in parse_warnings(response.headers["Warning"]):
                self.on_warning(text)
        if response.status_code >= 400:
            try:
                payload: Any = response.json()
            except ValueError:
                payload = None
            text = "" if stream else response.text[:200]
            error = error_from_status(response.status_code, payload,
                                      f"{method} {path}: HTTP {response.status_code} {text}")
            if response.status_code == 401:
                error.hint = self.credentials.refused_hint()
            raise error
        return response

    def _send(self, method: str, path: str, params: Any, data: bytes | None,
              headers: dict[str, str], stream: bool, timeout: float | None, used: Any
              ) -> requests.Response:
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE override a Session's
            # verify otherwise (psf/requests#3829), which would reject kompy's own CA.
            return self.session.request(method, self.server + path, params=params, data=data,
                                        headers=headers, stream=stream,
                                        timeout=self.timeout if timeout == -1.0 else timeout,
                                        verify=self.conn.verify,
                                        # None values mean "no proxy" (auth.proxies_for)
                                        proxies=self._proxies,  # type: ignore[arg-type]
                                        cert=self.credentials.client_cert(used))
        except requests.exceptions.SSLError as e:
            raise ClusterError(f"TLS with {self.server} failed: {_first_line(e)}",
                               hint="check the cluster's certificate-authority in the "
                                    "kubeconfig") from e
        except requests.exceptions.ProxyError as e:
            raise ClusterError(f"the proxy for {self.server} failed: {_first_line(e)}",
                               hint="check the cluster's proxy-url in the kubeconfig, or "
                                    "HTTPS_PROXY") from e
        except requests.ConnectionError as e:
            raise ClusterUnreachable(f"no cluster answers at {self.server} (connection "
                                     "refused)",
                               hint="for kompy's built-in cluster: `kompy cluster start`; "
                                    "else check the kubeconfig's server address") from e
        except requests.Timeout as e:
            raise ClusterError(f"the cluster at {self.server} did not answer in time") from e

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request(method, path, **kw).json()
        return result

    def _ns(self, res: resources.Resource, namespace: str | None) -> str | None:
        return (namespace or self.namespace) if res.namespaced else None

    @staticmethod
    def _meta(obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    # -- the contract -----------------------------------------------------------------------

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        res = resources.lookup(resource)
        return self._json("GET", res.path(self._ns(res, namespace), name))

    def list(self, resource: str, namespace: str | None = None,
             label_selector: str | None = None, field_selector: str | None = None
             ) -> dict[str, Any]:
        """A ``*List``; namespace None lists across all namespaces."""
        res = resources.lookup(resource)
        params = {k: v for k, v in (("labelSelector", label_selector),
                                    ("fieldSelector", field_selector)) if v}
        return self._json("GET", res.path(namespace if res.namespaced else None), params=params)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        res = resources.for_object(obj)
        return self._json("POST", res.path(self._ns(res, self._meta(obj).get("namespace"))),
                          body=obj)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        res = resources.for_object(obj)
        meta = self._meta(obj)
        return self._json("PUT", res.path(self._ns(res, meta.get("namespace")), meta.get("name")),
                          body=obj)

    def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        res = resources.for_object(obj)
        meta = self._meta(obj)
        return self._json("PUT", res.path(self._ns(res, meta.get("namespace")), meta.get("name"),
                                          "status"), body=obj)

    def patch(self, resource: str, name: str, namespace: str | None, patch: dict[str, Any],
              *, subresource: str | None = None) -> dict[str, Any]:
        """JSON merge patch (RFC 7386): maps merge, lists and scalars replace, null deletes."""
        res = resources.lookup(resource)
        return self._json("PATCH", res.path(self._ns(res, namespace), name, subresource),
                          data=json.dumps(patch).encode(),
                          content_type="application/merge-patch+json")

    def delete(self, resource: str, name: str, namespace: str | None = None, *,
               grace_period_seconds: int | None = None) -> dict[str, Any] | None:
        """Delete; the answer is the object (still there while it terminates) or None if gone.

        ``grace_period_seconds=0`` removes a terminating pod at once: what the kubelet sends
        once the pod's containers are stopped.
        """
        res = resources.lookup(resource)
        params = {} if grace_period_seconds is None else {
            "gracePeriodSeconds": str(grace_period_seconds)}
        result = self._json("DELETE", res.path(self._ns(res, namespace), name), params=params)
        if result.get("kind") == "Status":
            return None
        return result

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.apply_result(obj)[0]

    def apply_server_side(self, obj: dict[str, Any], manager: str
                          ) -> tuple[dict[str, Any], str]:
        """Server-side apply (``kubectl apply --server-side --force-conflicts``): the server
        merges ``obj`` into the live object and records ``manager`` as the owner of the
        fields it names; fields that ``manager`` named before and ``obj`` leaves out are
        removed, fields other managers own (an HPA's replicas) are kept. Returns the object
        and "created", "configured" or "unchanged" (the object is the same but for its status
        and bookkeeping, which controllers may write meanwhile)."""
        res = resources.for_object(obj)
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        namespace = self._ns(res, meta.get("namespace"))
        try:
            before: dict[str, Any] | None = self.get(res.plural, name, namespace)
        except NotFound:
            before = None
        result = self._json("PATCH", res.path(namespace, name),
                            params={"fieldManager": manager, "force": "true"},
                            data=json.dumps(obj).encode(),   # JSON is YAML
                            content_type="application/apply-patch+yaml")
        if before is None:
            return result, "created"
        same = _without_bookkeeping(before) == _without_bookkeeping(result)
        return result, "unchanged" if same else "configured"

    def apply_result(self, obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Create or replace, like ``kubectl apply``: returns the object and
        "created", "configured" or "unchanged".

        The manifest is recorded in the ``last-applied-configuration`` annotation, as kubectl
        does, so re-applying the same manifest is recognised as unchanged; a Secret's values
        are not (applied.py).
        """
        obj, manifest = applied.prepare(obj)
        meta = obj["metadata"]
        res = resources.for_object(obj)
        namespace = self._ns(res, meta.get("namespace"))
        for _attempt in range(5):
            try:
                existing = self.get(res.plural, str(meta.get("name")), namespace)
            except ApiError as e:
                if e.status != 404:
                    raise
                try:
                    return self.create(obj), "created"
                except Conflict:
                    continue
            if applied.unchanged(existing, obj, manifest):
                return existing, "unchanged"
            meta["resourceVersion"] = self._meta(existing)["resourceVersion"]
            if "status" in existing:
                obj["status"] = existing["status"]
            try:
                return self.replace(obj), "configured"
            except Conflict:
                continue
        raise ClusterError(f"{res.singular} {meta.get('name')!r} keeps changing; apply again")

    def watch(self, resource: str, namespace: str | None = None,
              resource_version: str | None = None, label_selector: str | None = None,
              timeout_seconds: int | None = None, field_selector: str | None = None,
              bookmarks: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events ``(ADDED|MODIFIED|DELETED, object)``; reconnects from the last version seen.

        Without ``resource_version`` the server first sends every existing object as ADDED.
        With ``timeout_seconds`` the iterator ends when the server closes the stream.
        Bookmarks are always asked for (they keep the version to resume from recent); with
        ``bookmarks`` they are handed over too, as ``(BOOKMARK, {metadata: resourceVersion})``,
        for a caller that resumes on its own (the informer).
        """
        res = resources.lookup(resource)
        path = res.path(namespace if res.namespaced else None)
        rv = resource_version
        failing_since: float | None = None
        while True:
            params: dict[str, str] = {"watch": "true", "allowWatchBookmarks": "true"}
            for key, value in (("resourceVersion", rv), ("labelSelector", label_selector),
                               ("fieldSelector", field_selector)):
                if value:
                    params[key] = value
            if timeout_seconds is not None:
                params["timeoutSeconds"] = str(timeout_seconds)
            try:
                response = self.request("GET", path, params=params, stream=True,
                                        timeout=_watch_idle(timeout_seconds))
                failing_since = None
                # chunk_size None: hand over each chunk as it arrives, not when 512 bytes filled.
                for line in response.iter_lines(chunk_size=None):  # type: ignore[call-overload]
                    if not line:
                        continue
                    event = json.loads(line)
                    kind, obj = str(event.get("type")), event.get("object") or {}
                    if kind == "ERROR":
                        raise error_from_status(int(obj.get("code") or 500), obj)
                    rv = self._meta(obj).get("resourceVersion") or rv
                    if kind != "BOOKMARK" or bookmarks:
                        yield kind, obj
                response.close()
            except Gone:
                raise
            except (ClusterError, requests.RequestException) as e:
                if timeout_seconds is not None and _read_timed_out(e):
                    log.debug("watch %s: silent %.0f s past its timeout; ended", path,
                              WATCH_GRACE_SECONDS)
                    return   # the caller looks again, as after the server's own end
                # 429 and 503 are a server shedding load or shutting down (a restart):
                # retried like a dropped connection, as client-go's reflector does.
                transient = not isinstance(e, ApiError) or e.status in (429, 503)
                if not transient or failing_since is not None and (
                        time.monotonic() - failing_since > WATCH_RETRY_SECONDS):
                    raise
                failing_since = failing_since or time.monotonic()
                log.debug("watch %s interrupted (%s); reconnecting from %s", path, e, rv)
                time.sleep(0.5)
                continue
            if timeout_seconds is not None:
                return

    def logs(self, name: str, namespace: str | None = None, container: str | None = None,
             follow: bool = False, previous: bool = False, tail_lines: int | None = None,
             *, since_seconds: int | None = None, since_time: float | None = None,
             timestamps: bool = False) -> Iterator[bytes]:
        """A pod container's log (PodLogOptions). ``since_time`` is a POSIX time, sent as
        RFC 3339 with its fraction of a second (kompy's server keeps it; kube-apiserver
        reads whole seconds)."""
        params: dict[str, str] = {}
        if container:
            params["container"] = container
        if follow:
            params["follow"] = "true"
        if previous:
            params["previous"] = "true"
        if tail_lines is not None:
            params["tailLines"] = str(tail_lines)
        if since_seconds is not None:
            params["sinceSeconds"] = str(since_seconds)
        if since_time is not None:
            params["sinceTime"] = _dt.datetime.fromtimestamp(since_time, _dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ")
        if timestamps:
            params["timestamps"] = "true"
        path = resources.lookup("pods").path(namespace or self.namespace, name, "log")
        response = self.request("GET", path, params=params, stream=True,
                                timeout=None if follow else self.timeout)
        try:
            yield from response.iter_content(chunk_size=None)
        finally:
            response.close()

    def exec(self, name: str, namespace: str | None, command: builtins.list[str],
             container: str | None = None, stdin: bytes | None = None) -> tuple[int, bytes]:
        """Run a command in a pod's container to its end: (exit code, standard output and
        error as they came). Through the API's WebSocket exec, on any cluster
        (:mod:`kompy.client.remotecommand` has the interactive form)."""
        return remotecommand.run(self, name, namespace or self.namespace, command,
                                 container=container, stdin=stdin)


def _watch_idle(timeout_seconds: int | None) -> float:
    """Seconds a watch may go without a byte (the server's promised end, plus a grace)."""
    if timeout_seconds is None:
        return UNBOUNDED_WATCH_IDLE_SECONDS
    return timeout_seconds + WATCH_GRACE_SECONDS


def _read_timed_out(error: BaseException | None) -> bool:
    """A read that waited out its timeout: before the answer's head (``requests.Timeout``,
    which :meth:`KubeClient._send` words as a ClusterError) or mid-stream (requests wraps
    urllib3's ReadTimeoutError in a ConnectionError)."""
    if error is None:
        return False
    if isinstance(error, requests.Timeout):
        return True
    cause = error.args[0] if isinstance(error, requests.ConnectionError) and error.args else None
    return isinstance(cause, urllib3.exceptions.ReadTimeoutError) or \
        _read_timed_out(error.__cause__)
