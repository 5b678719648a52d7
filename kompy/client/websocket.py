"""WebSocket connections (RFC 6455) for Kubernetes' streaming protocols, on wsproto.

The wsproto adapter: only this module imports wsproto (a sans-I/O implementation: it turns
bytes into events and events into bytes, and leaves sockets and threads to us). Both ends use
it: kompy's client (exec, attach, port-forward on any cluster) and the built-in API server
(kompy/cluster/apiserver/streams.py), which hands over a socket whose HTTP request
``http.server`` already read.

One :class:`WebSocket` is one connection after its handshake. A single I/O thread owns the
socket: it reads, answers pings, writes what other threads queued with :meth:`send`, and
ends the connection. No two threads ever call into the socket at once, which matters for
TLS (an OpenSSL connection must not be read and written from two threads at the same time).
Both directions apply back-pressure: :meth:`send` blocks while more than ``HIGH_WATER``
bytes wait to be written, and the I/O thread stops reading while more than ``HIGH_WATER``
bytes of received messages wait for :meth:`receive`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

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

from kompy.errors import ClusterError

log = logging.getLogger(__name__)

HIGH_WATER = 1 << 20
# After sending its close frame, an end waits this long for the peer's before dropping the
# connection (kube-apiserver waits up to 15 minutes for a client still reading output; a
# client that answers nothing for this long is gone).
CLOSE_WAIT_SECONDS = 60.0
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


class WebSocket:
    """One connection after the handshake: binary messages both ways, from any threads."""

    def __init__(self, sock: socket.socket, ws: WSConnection, subprotocol: str | None,
                 name: str = "websocket") -> None:
        self.subprotocol = subprotocol
        self._sock = sock
        self._ws = ws
        self._cond = threading.Condition()
        self._out = bytearray()
        self._inbox: collections.deque[bytes] = collections.deque()
        self._inbox_bytes = 0
        self._partial = bytearray()
        self._close_sent = False
        self._peer_closed = False         # a close frame or EOF came: no more messages
        self._done = False                # the socket is closed
        self._close_deadline: float | None = None
        self.close_code: int | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        sock.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- what other threads call ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue one binary message; blocks while the peer reads too slowly. Raises
        WebSocketError once the connection is closing."""
        with self._cond:
            while len(self._out) > HIGH_WATER and not self._unwritable():
                self._cond.wait()
            if self._unwritable():
                raise WebSocketError("the WebSocket connection is closed")
            self._out += self._ws.send(BytesMessage(data=data))
        self._wake()

    def receive(self, timeout: float | None = None) -> bytes | None:
        """The next message (text messages as UTF-8); None once the peer closed, or when
        ``timeout`` passes first (then :attr:`closed` tells which)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._inbox and not self._peer_closed and not self._done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            if not self._inbox:
                return None
            message = self._inbox.popleft()
            resume = self._inbox_bytes > HIGH_WATER
            self._inbox_bytes -= len(message)
        if resume:
            self._wake()
        return message

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Send the close frame (once) after everything queued; the connection ends when the
        peer answers it (or after CLOSE_WAIT_SECONDS). Messages that still arrive meanwhile
        are dropped."""
        with self._cond:
            if self._close_sent or self._done:
                return
            self._close_sent = True
            self._close_deadline = time.monotonic() + CLOSE_WAIT_SECONDS
            with contextlib.suppress(Exception):  # the peer's close came first: done already
                self._out += self._ws.send(CloseConnection(code=code, reason=reason))
            self._inbox.clear()
            self._cond.notify_all()
        self._wake()

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake."""
        with self._cond:
            self._done = True
            self._cond.notify_all()
        self._wake()

    @property
    def closed(self) -> bool:
        """No more messages will arrive (the peer closed, or the connection is gone)."""
        with self._cond:
            return (self._peer_closed or self._done) and not self._inbox

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the socket is closed; whether it is."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the I/O thread ------------------------------------------------------------------------
    def _unwritable(self) -> bool:
        return self._close_sent or self._peer_closed or self._done

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while self._step(selector):
                pass
        except Exception:  # noqa: BLE001 - a broken connection ends; nothing else may crash
            log.debug("WebSocket connection failed", exc_info=True)
        finally:
            selector.close()
            with self._cond:
                self._done = True
                self._peer_closed = True
                self._cond.notify_all()
            for s in (self._sock, self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    s.close()

    def _step(self, selector: selectors.BaseSelector) -> bool:
        with self._cond:
            if self._done:
                return False
            if self._peer_closed and not self._out:
                return False   # both closes exchanged (or the peer vanished): all written
            if self._close_sent and self._close_deadline is not None and \
                    time.monotonic() > self._close_deadline:
                return False
            want = 0
            if self._inbox_bytes <= HIGH_WATER and not self._peer_closed:
                want |= selectors.EVENT_READ
            if self._out:
                want |= selectors.EVENT_WRITE
        self._register(selector, want)
        timeout = None
        if self._close_deadline is not None:
            timeout = max(0.0, self._close_deadline - time.monotonic())
        for key, mask in selector.select(timeout):
            if key.fileobj is self._wake_r:
                with contextlib.suppress(BlockingIOError, OSError):
                    self._wake_r.recv(4096)
                continue
            if mask & selectors.EVENT_WRITE:
                self._write()
            if mask & selectors.EVENT_READ:
                self._read()
        return True

    def _register(self, selector: selectors.BaseSelector, want: int) -> None:
        try:
            key = selector.get_key(self._sock)
        except KeyError:
            if want:
                selector.register(self._sock, want)
            return
        if not want:
            selector.unregister(self._sock)
        elif key.events != want:
            selector.modify(self._sock, want)

    def _write(self) -> None:
        with self._cond:
            pending = bytes(self._out[:262144])
        try:
            sent = self._sock.send(pending)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            return
        with self._cond:
            del self._out[:sent]
            self._cond.notify_all()

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return
            except OSError:
                data = b""
            with self._cond:
                self._ws.receive_data(data or None)
                self._handle_events()
                if not data:
                    self._peer_closed = True
                    self._cond.notify_all()
                    return
                if self._peer_closed or self._inbox_bytes > HIGH_WATER:
                    return

    def _handle_events(self) -> None:
        """(Holding the lock.) wsproto's events: messages to the inbox, pings answered,
        the peer's close answered."""
        for event in self._ws.events():
            if isinstance(event, BytesMessage | TextMessage):
                data = event.data.encode() if isinstance(event, TextMessage) else event.data
                self._partial += data
                if event.message_finished:
                    if not self._close_sent:
                        self._inbox.append(bytes(self._partial))
                        self._inbox_bytes += len(self._partial)
                    self._partial.clear()
            elif isinstance(event, Ping):
                self._out += self._ws.send(event.response())
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                if not self._close_sent:
                    self._close_sent = True
                    with contextlib.suppress(Exception):
                        self._out += self._ws.send(event.response())
                self._peer_closed = True
        self._cond.notify_all()


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
            timeout: float = 30.0, name: str = "websocket") -> WebSocket:
    """The client's side: open ``url`` (http(s)://host:port/path?query; the handshake goes
    over TLS for https), offering ``subprotocols``. UpgradeRefused carries the server's
    status and body when it answers with anything but 101 (a Kubernetes Status, usually)."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise WebSocketError(f"cannot connect to {host}:{port}: {error.strerror or error}"
                             ) from error
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock: socket.socket = raw
    try:
        if secure:
            context = ssl_context or ssl.create_default_context()
            sock = context.wrap_socket(raw, server_hostname=server_hostname or host)
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
