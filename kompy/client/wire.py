"""A connected socket driven by one I/O thread: the transport under WebSocket and SPDY.

The thread reads, hands what arrives to the protocol on top (:meth:`Wire._received`), and
writes what other threads queued. No two threads ever call into the socket at once, which
matters for TLS: an OpenSSL connection must not be read and written from two threads at the
same time. Both directions apply back-pressure: a sender blocks while more than
``HIGH_WATER`` bytes wait to be written, and the I/O thread stops reading while more than
``HIGH_WATER`` bytes of received messages wait for :meth:`receive`.

:class:`RawWire` carries plain bytes (a SPDY connection after its HTTP upgrade); the
WebSocket of websocket.py frames messages on the same machinery.
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

log = logging.getLogger(__name__)

HIGH_WATER = 1 << 20
# A closing end waits this long for its peer (kube-apiserver waits up to 15 minutes for a
# client still reading output; one that answers nothing for this long is gone).
CLOSE_WAIT_SECONDS = 60.0


class WireClosed(OSError):
    """The connection is closing or closed: nothing more can be sent."""


class Wire:
    """The I/O thread and the buffers; subclasses speak a protocol in :meth:`_received`."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self._sock = sock
        self._cond = threading.Condition()
        self._out = bytearray()
        self._inbox: collections.deque[bytes] = collections.deque()
        self._inbox_bytes = 0
        self._closing = False             # this end closes: nothing more may be sent
        self._peer_closed = False         # the peer closed (or vanished): no more messages
        self._done = False                # the socket is closed
        self._close_deadline: float | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        self._sock.setblocking(False)
        self._thread.start()

    # -- what other threads call ---------------------------------------------------------------
    def receive(self, timeout: float | None = None) -> bytes | None:
        """The next message; None once the peer closed, or when ``timeout`` passes first
        (then :attr:`closed` tells which)."""
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

    def abort(self) -> None:
        """Drop the connection now."""
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

    # -- for subclasses ------------------------------------------------------------------------
    def _queue(self, data: bytes, *, control: bool = False) -> None:
        """(Holding the lock.) Bytes to write; a data sender waits for room, a control
        answer (a pong) never does."""
        while not control and len(self._out) > HIGH_WATER and not self._unwritable():
            self._cond.wait()
        if self._unwritable() and not control:
            raise WireClosed("the connection is closed")
        self._out += data

    def _deliver(self, message: bytes) -> None:
        """(Holding the lock.) A received message for :meth:`receive`."""
        self._inbox.append(message)
        self._inbox_bytes += len(message)

    def _begin_close(self) -> None:
        """(Holding the lock.) This end is done sending: the socket closes once what is
        queued is written and the peer is done too (or after CLOSE_WAIT_SECONDS)."""
        self._closing = True
        self._close_deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        self._cond.notify_all()

    def _received(self, data: bytes | None) -> None:
        """(Holding the lock, in the I/O thread.) Bytes from the peer; None at EOF."""
        raise NotImplementedError

    def _finished(self) -> bool:
        """(Holding the lock.) Whether the connection can end now."""
        return self._peer_closed and not self._out

    def _unwritable(self) -> bool:
        return self._closing or self._peer_closed or self._done

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"x")

    # -- the I/O thread ------------------------------------------------------------------------
    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while self._step(selector):
                pass
        except Exception:  # noqa: BLE001 - a broken connection ends; nothing else may crash
            log.debug("connection failed", exc_info=True)
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
            if self._done or self._finished():
                return False
            if self._close_deadline is not None and time.monotonic() > self._close_deadline:
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
                self._received(data or None)
                if not data:
                    self._peer_closed = True
                self._cond.notify_all()
                if self._peer_closed or self._inbox_bytes > HIGH_WATER:
                    return


class RawWire(Wire):
    """Plain bytes both ways (a connection after an HTTP upgrade to SPDY)."""

    def __init__(self, sock: socket.socket, name: str = "wire") -> None:
        super().__init__(sock, name)
        self._start()

    def send(self, data: bytes) -> None:
        with self._cond:
            self._queue(data)
        self._wake()

    def close(self) -> None:
        """Stop sending; the socket closes once what is queued is written."""
        with self._cond:
            self._begin_close()
        self._wake()

    def _received(self, data: bytes | None) -> None:
        if data:
            self._deliver(data)

    def _finished(self) -> bool:
        return (self._peer_closed or self._closing) and not self._out
