"""The HTTP front's guards: bounded request bodies, and clients that hang up on a stream.

Bodies: kube-apiserver reads at most 3 MiB of a request body (``MaxRequestBodyBytes`` in
k8s.io/apiserver) and answers a larger one with 413 ``RequestEntityTooLarge``. The length
comes from ``Content-Length`` (digits only: ``-1`` or ``abc`` is a 400, never a wait for
bytes that will not come) or from chunked transfer coding, counted as it arrives. Nothing is
read before the request's headers have been authenticated (server.py).

Hang-ups: a watch waits on the store, not on its socket, so it would only learn that its
client left when it next writes, which may be hours away. ``HangupMonitor`` is one thread
blocked in epoll on every streaming connection, woken by the kernel when a peer closes
(``EPOLLRDHUP``); it cancels that stream at once, whatever the stream is waiting for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kompy.client.errors import ApiError

log = logging.getLogger(__name__)

# k8s.io/apiserver/pkg/server/config.go: MaxRequestBodyBytes = 3 * 1024 * 1024.
MAX_BODY_BYTES = 3 * 1024 * 1024
# A client has this long to send a body it announced before the connection is dropped.
BODY_TIMEOUT_SECONDS = 60.0
_DIGITS = re.compile(r"[0-9]{1,18}")
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


class Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self, size: int = -1, /) -> bytes: ...


class HeaderBag(Protocol):
    def get(self, name: str, default: None = None) -> str | None: ...
    def get_all(self, name: str, failobj: None = None) -> list[str] | None: ...


class BodyError(ApiError):
    """The body cannot be read; the connection must close after the answer."""


def bad_body(message: str) -> BodyError:
    return BodyError(400, "BadRequest", message)


def too_large(limit: int) -> BodyError:
    # apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
    return BodyError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def body_limit(path: str) -> int:
    """Every body's limit (exec's standard input is streamed on an upgraded connection,
    streams.py, not sent as a body)."""
    return MAX_BODY_BYTES


def read_body(rfile: Reader, headers: HeaderBag, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes; BodyError (400/413) otherwise, and
    ConnectionError when the client stops sending half-way."""
    coding = headers.get("Transfer-Encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise bad_body(f"unsupported Transfer-Encoding {coding!r}: only chunked is")
        return _read_chunked(rfile, limit)
    values = {v.strip() for v in headers.get_all("Content-Length") or []}
    if not values:
        return b""
    if len(values) > 1:
        raise bad_body("conflicting Content-Length headers")
    text = values.pop()
    if not _DIGITS.fullmatch(text):
        raise bad_body(f"invalid Content-Length {text[:40]!r}: must be a number of bytes")
    length = int(text)
    if length > limit:
        raise too_large(limit)
    data = rfile.read(length) if length else b""
    if len(data) < length:
        raise ConnectionError("the client closed the connection before sending its body")
    return data


def _read_chunked(rfile: Reader, limit: int) -> bytes:
    """RFC 9112 section 7.1: size lines in hex (extensions ignored), data, CRLF; a last
    chunk of size 0 and optional trailer lines."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1024)
        if not line:
            raise ConnectionError("the client closed the connection inside a chunked body")
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
            raise bad_body("malformed chunked body: a chunk size line is not a hex number")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise too_large(limit)
        data = rfile.read(size)
        if len(data) < size:
            raise ConnectionError("the client closed the connection inside a chunk")
        if rfile.read(2) != b"\r\n":
            raise bad_body("malformed chunked body: a chunk does not end with CRLF")
        parts.append(data)
    for _ in range(64):          # trailer fields, ignored; an empty line ends the body
        line = rfile.readline(8192)
        if line in (b"\r\n", b"\n", b""):
            return b"".join(parts)
    raise bad_body("malformed chunked body: too many trailer lines")


def linger(sock: socket.socket, seconds: float = 2.0, budget: int = 64 * 1024 * 1024) -> None:
    """After answering a request whose body was left unread: stop sending, then read and
    drop what the client still sends (bounded in time and bytes) before closing, so that it
    reads our answer instead of a reset (RFC 9112 section 9.6, "lingering close")."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        while budget > 0 and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                break
            budget -= len(data)


class HangupMonitor:
    """Calls a stream's cancel function as soon as its client closes the connection.

    epoll with ``EPOLLRDHUP | EPOLLONESHOT`` per connection: the thread sleeps in the
    kernel until a peer hangs up, so any number of idle watches costs no CPU. A reported
    hang-up is confirmed on the socket before cancelling, because a file descriptor may be
    closed and reused by a new connection between the kernel's report and its handling.
    On systems without epoll this is a no-op (a stream then ends at its next write).
    """

    def __init__(self) -> None:
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        if self._epoll is not None:
            self._epoll.register(self._wake_r, select.EPOLLIN)
            self._thread = threading.Thread(target=self._run, name="api-hangups", daemon=True)
            self._thread.start()

    def add(self, sock: socket.socket, cancel: Callable[[], None]) -> None:
        if self._epoll is None:
            return
        fd = sock.fileno()
        with self._lock:
            self._callbacks[fd] = cancel
            try:
                self._epoll.register(fd, select.EPOLLRDHUP | select.EPOLLONESHOT)
            except (OSError, ValueError):
                self._callbacks.pop(fd, None)

    def remove(self, sock: socket.socket) -> None:
        if self._epoll is None:
            return
        with contextlib.suppress(OSError, ValueError):
            fd = sock.fileno()
            with self._lock:
                if self._callbacks.pop(fd, None) is not None:
                    with contextlib.suppress(OSError, ValueError):
                        self._epoll.unregister(fd)

    def _run(self) -> None:
        assert self._epoll is not None
        while True:
            try:
                ready = self._epoll.poll()
            except InterruptedError:
                continue
            except (OSError, ValueError):
                return                 # closed
            for fd, _mask in ready:
                if fd == self._wake_r:
                    return
                with self._lock:
                    cancel = self._callbacks.get(fd)
                    if cancel is None:
                        continue
                    if not _hung_up(fd):
                        # A stale report for a reused descriptor: watch it again.
                        with contextlib.suppress(OSError, ValueError):
                            self._epoll.modify(fd, select.EPOLLRDHUP | select.EPOLLONESHOT)
                        continue
                    del self._callbacks[fd]
                    with contextlib.suppress(OSError, ValueError):
                        self._epoll.unregister(fd)
                try:
                    cancel()
                except Exception:  # noqa: BLE001 - one stream's clean-up must not stop others
                    log.exception("cancelling a stream failed")

    def close(self) -> None:
        if self._epoll is None or self._thread is None:
            return
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def _hung_up(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLRDHUP)
    return any(mask & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)
               for _, mask in poller.poll(0))
