"""Userspace TCP and UDP proxies: one listening socket, round-robin over the ready backends.

Like kube-proxy's original userspace mode. Each accepted connection goes to the next backend
(skipping backends that refuse), and one thread per connection pumps bytes both ways,
blocking in ``select`` (no CPU while idle). ``allow`` filters peers by address, which is how
a Service's cluster IP refuses clients from other namespaces; ``permit`` filters the backends
a given peer may be relayed to (the NetworkPolicies between that client and each pod).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import select
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Backend = tuple[str, int]


# Connect timeouts of successive rounds over a Service's backends (kube-proxy userspace's
# EndpointDialTimeouts): at most ~3.75 s before a client's connection is given up.
DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)
# While every backend refuses, they are tried again this often within the rounds' time: a
# refused connect costs microseconds, and the client gets the backend as soon as it
# listens again rather than at the next round's start (up to a second later).
REFUSED_RETRY = 0.02

class BaseListener:
    """What both proxies share: the listening address and socket, the peer filter, and the
    backends (replaced as a whole when the Service's endpoints change) taken round-robin.

    A subclass binds in ``__init__`` (through :meth:`_bind`), sets up its own state, then
    calls :meth:`_start` with the loop its thread runs.
    """

    def __init__(self, host: str, port: int, allow: Callable[[str], bool] | None,
                 sock_type: socket.SocketKind) -> None:
        self.host = host
        self.port = port
        self.allow = allow
        self.backends: list[Backend] = []
        # May this peer reach this backend? (None: every peer every backend.)
        self.permit: Callable[[str, Backend], bool] | None = None
        self._next = itertools.count()
        self._sock = socket.socket(socket.AF_INET, sock_type)
        try:
            self._bind()
        except OSError:
            self._sock.close()
            raise
        self._closed = False

    def _bind(self) -> None:
        self._sock.bind((self.host, self.port))

    def _start(self, target: Callable[[], None], thread_name: str) -> None:
        self._thread = threading.Thread(target=target, name=thread_name, daemon=True)
        self._thread.start()

    def _allowed(self, peer: str) -> bool:
        return self.allow is None or self.allow(peer)

    def _rotation(self, peer: str) -> list[Backend]:
        """The backends ``peer`` may reach, starting at the next one in turn ([] when there
        are none: then no turn is used up)."""
        permit = self.permit
        backends = [b for b in self.backends if permit is None or permit(peer, b)]
        if not backends:
            return []
        start = next(self._next) % len(backends)
        return backends[start:] + backends[:start]


class TcpListener(BaseListener):
    def __init__(self, host: str, port: int, allow: Callable[[str], bool] | None = None) -> None:
        super().__init__(host, port, allow, socket.SOCK_STREAM)
        self._start(self._accept, f"proxy-{host}:{port}")

    def _bind(self) -> None:
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super()._bind()
        self._sock.listen(256)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):  # shutdown wakes the thread blocked in accept()
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return
            if not self._allowed(peer[0]):
                log.debug("%s:%s refused a connection from %s", self.host, self.port, peer[0])
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn, peer[0]), daemon=True,
                             name=f"proxy-conn-{self.port}").start()

    def _connect(self, peer: str) -> socket.socket | None:
        """A connection to the next backend that accepts one; None when none does.

        As kube-proxy's userspace mode (its EndpointDialTimeouts), rounds over the backends
        with growing connect timeouts: a backend that refuses passes its turn on. When every
        one refused, they are tried again every :data:`REFUSED_RETRY` seconds (with the
        Service's current backends) until the rounds' time is up, so a pod restarting in
        place, or the last pod of a rollout starting, is a short wait for the client rather
        than a failed request, and no longer than the pod takes to listen.
        """
        started = time.monotonic()
        ends = list(itertools.accumulate(DIAL_TIMEOUTS))
        while True:
            elapsed = time.monotonic() - started
            rounds = [i for i, end in enumerate(ends) if elapsed < end]
            if not rounds:
                return None
            targets = self._rotation(peer)
            if not targets:
                return None  # no ready endpoint at all: refuse at once
            for target in targets:
                try:
                    return socket.create_connection(target, timeout=DIAL_TIMEOUTS[rounds[0]])
                except OSError as error:
                    log.debug("backend %s:%s refused: %s", *target, error)
            time.sleep(min(REFUSED_RETRY, max(0.0, ends[-1] - (time.monotonic() - started))))

    def _serve(self, conn: socket.socket, peer: str) -> None:
        upstream = self._connect(peer)
        if upstream is None:
            conn.close()
            return
        upstream.settimeout(None)
        # A relay must not hold bytes back: with Nagle's algorithm the second small write of
        # a response (its body after its head) waits for the peer's delayed ACK, milliseconds
        # per request on a kept-alive connection.
        for sock in (conn, upstream):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            pump(conn, upstream)
        finally:
            conn.close()
            upstream.close()


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until both directions reached end-of-file (half-closes are passed on)."""
    peers = {a: b, b: a}
    open_ = {a, b}
    while open_:
        try:
            readable, _, _ = select.select(list(open_), [], [])
        except (OSError, ValueError):
            return
        for src in readable:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            dst = peers[src]
            if data:
                try:
                    dst.sendall(data)
                except OSError:
                    return
                continue
            open_.discard(src)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


class UdpListener(BaseListener):
    """A UDP proxy: each client address gets its own socket towards one backend (picked
    round-robin at its first datagram); replies come back through the listening socket.
    A client silent for ``IDLE`` seconds is forgotten (checked when traffic arrives)."""

    IDLE = 60.0

    def __init__(self, host: str, port: int, allow: Callable[[str], bool] | None = None) -> None:
        super().__init__(host, port, allow, socket.SOCK_DGRAM)
        self._clients: dict[tuple[str, int], tuple[socket.socket, float]] = {}
        self._owners: dict[socket.socket, tuple[str, int]] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._start(self._run, f"proxy-udp-{host}:{port}")

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        try:
            while not self._closed:
                readable, _, _ = select.select([self._sock, self._wake_r, *self._owners], [], [])
                now = time.monotonic()
                for sock in readable:
                    if sock is self._wake_r:
                        continue
                    if sock is self._sock:
                        self._from_client(now)
                    else:
                        self._from_backend(sock, now)
                for client, (upstream, seen) in list(self._clients.items()):
                    if now - seen > self.IDLE:
                        self._forget(client, upstream)
        finally:
            for client, (upstream, _) in list(self._clients.items()):
                self._forget(client, upstream)
            self._sock.close()
            self._wake_r.close()
            self._wake_w.close()

    def _from_client(self, now: float) -> None:
        try:
            data, client = self._sock.recvfrom(65535)
        except OSError:
            return
        if not self._allowed(client[0]):
            return
        entry = self._clients.get(client)
        if entry is None:
            rotation = self._rotation(client[0])
            if not rotation:
                return
            target = rotation[0]
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                upstream.connect(target)
            except OSError:
                upstream.close()
                return
            self._owners[upstream] = client
            entry = (upstream, now)
        self._clients[client] = (entry[0], now)
        with contextlib.suppress(OSError):
            entry[0].send(data)

    def _from_backend(self, upstream: socket.socket, now: float) -> None:
        client = self._owners.get(upstream)
        try:
            data = upstream.recv(65535)
        except OSError:
            if client is not None:
                self._forget(client, upstream)
            return
        if client is not None:
            self._clients[client] = (upstream, now)
            with contextlib.suppress(OSError):
                self._sock.sendto(data, client)

    def _forget(self, client: tuple[str, int], upstream: socket.socket) -> None:
        self._clients.pop(client, None)
        self._owners.pop(upstream, None)
        upstream.close()
