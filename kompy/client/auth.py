"""The credentials and transport settings a KubeClient sends, from a kubeconfig Connection,
as client-go's ``transport`` package applies them.

- Precedence: a ``token`` / ``tokenFile``, basic auth or a client certificate in the
  kubeconfig are used as they are; the ``exec`` plugin runs only when none is set (client-go's
  exec authenticator steps aside the same way).
- ``tokenFile`` is read again at most once a minute (client-go's cached file token source),
  and at once after a 401, so a rotated token (a projected service-account token) is picked
  up without a restart.
- A 401 re-runs the exec plugin (unless another request already did) as client-go does;
  kompy then retries the request once with the new credential, where client-go returns the
  401 to its caller and only the next request benefits.
- ``tls-server-name`` is the name sent in SNI and checked in the server's certificate;
  ``proxy-url`` carries every request (http, https, or socks5 with PySocks installed);
  without it the usual ``HTTPS_PROXY``/``NO_PROXY`` variables apply, except to a loopback
  server (Go's ``ProxyFromEnvironment`` never proxies localhost either). Streams (exec,
  attach, port-forward: WebSockets) take the same proxy (:func:`stream_proxy`) through an
  HTTP CONNECT tunnel or SOCKS5; an https:// proxy carries requests only.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from kompy.client import execcred
from kompy.client.kubeconfig import Connection, read_token_file
from kompy.errors import ClusterError

TOKEN_FILE_PERIOD = 60.0  # client-go re-reads a tokenFile once a minute


class Credentials:
    """What goes into each request's ``Authorization`` header and TLS client certificate."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._token = conn.token
        self._token_read = time.monotonic()
        self._exec = None
        if conn.exec is not None and not (conn.token or conn.token_file or conn.basic_auth
                                          or conn.cert):
            self._exec = execcred.authenticator(conn.exec)

    def authorize(self, headers: dict[str, str]) -> Any:
        """Set the credential in ``headers``; returns a handle for :meth:`unauthorized`."""
        if self._exec is not None:
            credential = self._exec.get()
            if credential.token:
                headers["Authorization"] = f"Bearer {credential.token}"
            return credential
        if self.conn.token_file:
            self._reread_token(force=False)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
            return self._token
        if self.conn.basic_auth:
            pair = ":".join(self.conn.basic_auth).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return None

    def client_cert(self, used: Any) -> tuple[str, str] | None:
        if isinstance(used, execcred.Credential) and used.cert:
            return used.cert
        return self.conn.cert

    def unauthorized(self, used: Any) -> bool:
        """The server answered 401 to a request sent with ``used``: refresh what can be
        refreshed; whether a retry would send something different."""
        if isinstance(used, execcred.Credential) and self._exec is not None:
            return self._exec.refresh(used)
        if self.conn.token_file:
            return bool(self._reread_token(force=True) != used)
        return False

    def refused_hint(self) -> str:
        """What to check when the server refuses the credential (401)."""
        user = f" of user {self.conn.user!r}" if self.conn.user else ""
        if self._exec is not None:
            name = self._exec.config.command.rsplit("/", 1)[-1]
            return (f"the server refused the credential that plugin {name!r}{user} gave, "
                    "even freshly fetched; log in again with the plugin")
        if self.conn.token_file:
            return f"the server refused the token in {self.conn.token_file}"
        if self.conn.context:
            return (f"the server refused the credentials{user} of context "
                    f"{self.conn.context!r}")
        return ("the cluster's token was refused; for the built-in cluster run "
                "`kompy cluster kubeconfig` to get the current one")

    def _reread_token(self, *, force: bool) -> str | None:
        with self._lock:
            now = time.monotonic()
            if force or now - self._token_read >= TOKEN_FILE_PERIOD:
                self._token_read = now
                try:
                    self._token = read_token_file(str(self.conn.token_file), self.conn.user)
                except ClusterError:
                    if self._token is None:
                        raise  # nothing to fall back on (client-go keeps the last token)
            return self._token


class ServerNameAdapter(HTTPAdapter):
    """HTTPS with a given TLS server name (``tls-server-name``): SNI and certificate check."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["server_hostname"] = self.server_name
        return super().proxy_manager_for(proxy, **kwargs)


def proxies_for(conn: Connection) -> dict[str, str | None] | None:
    # A None value keeps requests from filling that key from the environment, then is
    # dropped: no proxy.
    """Per-request proxies: ``proxy-url`` for everything, none for a loopback server, or
    None to leave the environment's proxy variables to requests."""
    if conn.proxy_url:
        scheme = urlsplit(conn.proxy_url).scheme
        if scheme not in ("http", "https", "socks5", "socks5h"):
            raise ClusterError(f"cluster {conn.cluster!r}: proxy-url scheme {scheme!r} is "
                               "not supported", hint="use http, https or socks5")
        if scheme.startswith("socks"):
            try:
                import socks  # noqa: F401 - PySocks, what requests needs for socks5
            except ImportError:
                raise ClusterError(f"cluster {conn.cluster!r}: a socks5 proxy-url needs the "
                                   "PySocks package",
                                   hint="pip install 'requests[socks]'") from None
        return {"http": conn.proxy_url, "https": conn.proxy_url}
    if _loopback(urlsplit(conn.server).hostname or ""):
        return {"http": None, "https": None, "all": None}
    return None


def stream_proxy(conn: Connection) -> str | None:
    """The proxy a WebSocket stream (exec, attach, port-forward) goes through, chosen as
    :func:`proxies_for` chooses for requests: ``proxy-url``, else ``HTTPS_PROXY``/
    ``HTTP_PROXY`` unless ``NO_PROXY`` names the server, never for a loopback server."""
    chosen = proxies_for(conn)
    if chosen is not None:
        return chosen.get("https")
    found = get_environ_proxies(conn.server)   # {} when NO_PROXY names the server
    return found.get(urlsplit(conn.server).scheme) or found.get("all") or None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
