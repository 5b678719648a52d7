"""WebSocket connections (RFC 6455) for Kubernetes' streaming protocols, on wsproto.

The wsproto adapter: only this module imports wsproto (a sans-I/O implementation: it turns
bytes into events and events into bytes, and leaves sockets and threads to us). Both ends use
it: kompy's client (exec, attach, port-forward on any cluster) and the built-in API server
(kompy/cluster/apiserver/streams.py), which hands over a socket whose HTTP request
``http.server`` already read.

One :class:`WebSocket` is one connection after its handshake, on a :class:`wire.Wire`: a
single I/O thread owns the socket (it reads, answers pings, writes what other threads queued
with :meth:`WebSocket.send`, and ends the connection), with back-pressure both ways.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from kompy.client.wire import Wire, WireClosed
from kompy.errors import ClusterError

NORMAL_CLOSURE = 1000


class WebSocketError(ClusterError):
    """The WebSocket handshake or connection failed."""


class UpgradeRefused(WebSocketError):
    """The server answered the handshake with an HTTP status instead of 101."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"the server refused the WebSocket upgrade: HTTP {status}")
        self.status = status
        self.body = body


class HandshakeError(WebSocketError):
    """A client's upgrade request is not a valid WebSocket handshake."""


class WebSocket(Wire):
    """One connection after the handshake: binary messages both ways, from any threads."""

    def __init__(self, sock: socket.socket, ws: WSConnection, subprotocol: str | None,
                 name: str = "websocket") -> None:
        super().__init__(sock, name)
        self.subprotocol = subprotocol
        self._ws = ws
        self._partial = bytearray()
        self._close_sent = False
        self.close_code: int | None = None
        # Frames that came in the same read as the handshake's answer are parsed already and
        # wait in wsproto: take them now, no more bytes may ever come to trigger it.
        with self._cond:
            self._handle_events()
        self._start()

    def send(self, data: bytes) -> None:
        """Queue one binary message; blocks while the peer reads too slowly. Raises
        WebSocketError once the connection is closing."""
        with self._cond:
            try:
                self._queue(b"")      # waits for room; raises once closing
            except WireClosed:
                raise WebSocketError("the WebSocket connection is closed") from None
            self._out += self._ws.send(BytesMessage(data=data))
        self._wake()

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Send the close frame (once) after everything queued; the connection ends when the
        peer answers it (or after CLOSE_WAIT_SECONDS). Messages that still arrive meanwhile
        are dropped."""
        with self._cond:
            if self._close_sent or self._done:
                return
            self._close_sent = True
            with contextlib.suppress(Exception):  # the peer's close came first
                self._out += self._ws.send(CloseConnection(code=code, reason=reason))
            self._inbox.clear()
            self._inbox_bytes = 0
            self._begin_close()
        self._wake()

    def _received(self, data: bytes | None) -> None:
        """wsproto's events: messages to the inbox, pings answered, the peer's close
        answered."""
        self._ws.receive_data(data)
        self._handle_events()

    def _handle_events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, BytesMessage | TextMessage):
                chunk = event.data.encode() if isinstance(event, TextMessage) else event.data
                self._partial += chunk
                if event.message_finished:
                    if not self._close_sent:
                        self._deliver(bytes(self._partial))
                    self._partial.clear()
            elif isinstance(event, Ping):
                with contextlib.suppress(Exception):   # not once this end is closing
                    self._out += self._ws.send(event.response())
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                if not self._close_sent:
                    self._close_sent = True
                    with contextlib.suppress(Exception):
                        self._out += self._ws.send(event.response())
                self._peer_closed = True


# -- handshakes ------------------------------------------------------------------------------
def accept(sock: socket.socket, request_head: bytes, choose: Sequence[str],
           name: str = "websocket") -> WebSocket:
    """The server's side of the handshake, for a request whose head (request line and
    headers) an HTTP server already read from ``sock``: the first subprotocol the client
    offered that is in ``choose`` (RFC 6455 section 4.2.2), else none. HandshakeError when
    the request is not a WebSocket handshake (nothing was written then)."""
    ws = WSConnection(ConnectionType.SERVER)
    try:
        ws.receive_data(request_head)
        request = next((e for e in ws.events() if isinstance(e, Request)), None)
    except RemoteProtocolError as error:
        raise HandshakeError(f"not a valid WebSocket handshake: {error}") from None
    if request is None:
        raise HandshakeError("not a valid WebSocket handshake")
    offered = list(request.subprotocols)
    chosen = next((p for p in offered if p in choose), None)
    sock.sendall(ws.send(AcceptConnection(subprotocol=chosen)))
    return WebSocket(sock, ws, chosen, name)


def offered_subprotocols(header: str | None) -> list[str]:
    """The subprotocols of a ``Sec-WebSocket-Protocol`` header, in the client's order."""
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def connect(url: str, *, headers: dict[str, str], subprotocols: Sequence[str],
            ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
            timeout: float = 30.0, name: str = "websocket", proxy: str | None = None
            ) -> WebSocket:
    """The client's side: open ``url`` (http(s)://host:port/path?query; the handshake goes
    over TLS for https), offering ``subprotocols``, through ``proxy`` when given (an
    http:// proxy's CONNECT tunnel, or socks5:// with PySocks). UpgradeRefused carries the server's
    status and body when it answers with anything but 101 (a Kubernetes Status, usually)."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    raw = _open(host, port, proxy, timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock: socket.socket = raw
    try:
        if secure:
            context = ssl_context or ssl.create_default_context()
            sock = _tls(context, raw, server_hostname or host)
        ws = WSConnection(ConnectionType.CLIENT)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        sock.sendall(ws.send(Request(host=parts.netloc, target=target,
                                     subprotocols=list(subprotocols),
                                     extra_headers=[(k.encode(), v.encode())
                                                    for k, v in headers.items()])))
        accepted = _await_answer(sock, ws)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return WebSocket(sock, ws, accepted.subprotocol, name)


def _tls(context: ssl.SSLContext, raw: socket.socket, name: str) -> ssl.SSLSocket:
    try:
        return context.wrap_socket(raw, server_hostname=name)
    except ssl.SSLCertVerificationError as error:
        raise WebSocketError(f"TLS failed: certificate verify failed: {error.verify_message}"
                             ) from error
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise WebSocketError(f"TLS failed: {reason}") from error


def _open(host: str, port: int, proxy: str | None, timeout: float) -> socket.socket:
    """A TCP connection to host:port, directly or through the proxy."""
    where = f"{host}:{port}"
    if proxy is None:
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise WebSocketError(f"cannot connect to {where}: {error.strerror or error}"
                                 ) from error
    parts = urlsplit(proxy)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    try:
        if parts.scheme == "http":
            # http.client speaks the CONNECT request and reads its answer; the tunnelled
            # socket is then ours.
            tunnel = http.client.HTTPConnection(parts.hostname or "", parts.port or 80,
                                                timeout=timeout)
            headers = {}
            if parts.username:
                token = base64.b64encode(f"{user}:{password}".encode()).decode()
                headers["Proxy-Authorization"] = f"Basic {token}"
            tunnel.set_tunnel(host, port, headers)
            tunnel.connect()
            sock, tunnel.sock = tunnel.sock, None
            return sock
        if parts.scheme in ("socks5", "socks5h"):
            import socks  # PySocks, as for requests (auth.proxies_for checked it is there)

            made: socket.socket = socks.create_connection(
                (host, port), timeout=timeout, proxy_type=socks.SOCKS5,
                proxy_addr=parts.hostname, proxy_port=parts.port or 1080,
                proxy_rdns=parts.scheme == "socks5h", proxy_username=user or None,
                proxy_password=password or None)
            return made
    except (OSError, http.client.HTTPException) as error:
        raise WebSocketError(f"cannot connect to {where} through the proxy "
                             f"{parts.hostname}:{parts.port}: {error}") from error
    raise WebSocketError(f"a {parts.scheme}:// proxy cannot carry exec, attach or "
                         "port-forward streams (http:// and socks5:// can)")


def _await_answer(sock: socket.socket, ws: WSConnection) -> AcceptConnection:
    status = 0
    body = bytearray()
    while True:
        try:
            data = sock.recv(65536)
        except ssl.SSLError as error:
            raise WebSocketError(f"TLS failed: {error.reason or error}") from error
        except OSError as error:
            raise WebSocketError(f"the WebSocket handshake failed: {error}") from error
        try:
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    return event
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        raise UpgradeRefused(status, b"")
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        raise UpgradeRefused(status, bytes(body))
        except RemoteProtocolError as error:
            raise WebSocketError(f"the WebSocket handshake failed: {error}") from error
        if not data:
            if status:
                raise UpgradeRefused(status, bytes(body))
            raise WebSocketError("the server closed the connection during the WebSocket "
                                 "handshake")
