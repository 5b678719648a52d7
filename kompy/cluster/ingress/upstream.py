"""Connections from the Ingress to backend pods: dialled round-robin over the ready
endpoints, kept alive in a pool between requests, and retried elsewhere when a pod goes.

Dialling follows the Service proxy's rounds (kube-proxy userspace's EndpointDialTimeouts,
:data:`kompy.cluster.proxy.tcpproxy.DIAL_TIMEOUTS`): every ready endpoint in turn with a short
connect timeout, then the next round with a longer one, re-reading the endpoints each round
so pods that became ready meanwhile count. A pod that is stopping refuses, and the request
goes to the next one before any byte is sent: no failed request during a rollout.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kompy.cluster.ingress.table import Backend, Endpoint, UpstreamTls
from kompy.cluster.proxy.tcpproxy import DIAL_TIMEOUTS

log = logging.getLogger(__name__)

IDLE_SECONDS = 55.0   # below the 60 s that common servers keep idle connections open
MAX_IDLE_PER_ENDPOINT = 32


@dataclass
class Connection:
    """One connection to a backend pod, with whatever state its HTTP client keeps."""

    sock: socket.socket
    endpoint: Endpoint
    tls: UpstreamTls | None
    reused: bool = False
    state: Any = None           # the HTTP/1.1 client state (kept across requests)
    idle_since: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _alive(sock: socket.socket) -> bool:
    """An idle keep-alive connection is usable if the server has not closed it: nothing (no
    EOF, no stray bytes) is waiting to be read."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class Pool:
    """Idle keep-alive connections per (endpoint, TLS settings)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Endpoint, int], list[Connection]] = {}
        self._lock = threading.Lock()

    def take(self, endpoint: Endpoint, tls: UpstreamTls | None) -> Connection | None:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get((endpoint, id(tls)))
            while idle:
                conn = idle.pop()
                if now - conn.idle_since < IDLE_SECONDS and _alive(conn.sock):
                    conn.reused = True
                    return conn
                conn.close()
        return None

    def give(self, conn: Connection) -> None:
        conn.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault((conn.endpoint, id(conn.tls)), [])
            if len(idle) < MAX_IDLE_PER_ENDPOINT:
                idle.append(conn)
                return
        conn.close()

    def retain(self, endpoints: set[Endpoint]) -> None:
        """Close idle connections to endpoints that are no longer ready (pods going away)."""
        with self._lock:
            for key in [k for k in self._idle if k[0] not in endpoints]:
                for conn in self._idle.pop(key):
                    conn.close()

    def close(self) -> None:
        self.retain(set())


class Dialer:
    """Picks endpoints round-robin per backend and connects to them."""

    def __init__(self, pool: Pool, current: Callable[[Backend], tuple[Endpoint, ...]]) -> None:
        self.pool = pool
        self._current = current  # the backend's ready endpoints in the newest table
        self._turns: dict[tuple[str, str, str], itertools.count[int]] = {}
        self._lock = threading.Lock()

    def _rotation(self, backend: Backend, endpoints: tuple[Endpoint, ...]) -> list[Endpoint]:
        if not endpoints:
            return []
        with self._lock:
            turn = self._turns.setdefault((backend.namespace, backend.service, backend.port),
                                          itertools.count())
            start = next(turn) % len(endpoints)
        ordered = sorted(endpoints)
        return ordered[start:] + ordered[:start]

    def connections(self, backend: Backend, connect_timeout: float,
                    errors: list[str] | None = None, pooled: bool = True
                    ) -> Iterator[Connection]:
        """Connections to try a request on, best first: the next endpoint's idle keep-alive
        connection or a new one; after a failure the caller asks for the next. Ends when
        every round over the endpoints is used up (or ``connect_timeout`` has passed);
        ``errors`` collects why connections could not be made."""
        deadline = time.monotonic() + connect_timeout
        endpoints = backend.endpoints
        for timeout in DIAL_TIMEOUTS:
            started = time.monotonic()
            targets = self._rotation(backend, endpoints)
            if not targets:
                return
            for endpoint in targets:
                idle = self.pool.take(endpoint, backend.tls) if pooled else None
                if idle is not None:
                    yield idle
                    continue
                try:
                    yield self.connect(endpoint, backend.tls, min(timeout, connect_timeout))
                except OSError as error:
                    log.debug("backend %s:%s of %s: %s", *endpoint, backend.label, error)
                    if errors is not None:
                        errors.append(f"{endpoint[0]}:{endpoint[1]}: {_why(error)}")
            if time.monotonic() >= deadline:
                return
            time.sleep(max(0.0, min(timeout - (time.monotonic() - started),
                                    deadline - time.monotonic())))
            endpoints = self._current(backend) or endpoints

    def dial_raw(self, backend: Backend, connect_timeout: float = 5.0) -> socket.socket | None:
        """A new plain TCP connection to one of the backend's endpoints (TLS passthrough)."""
        for conn in self.connections(replace(backend, tls=None), connect_timeout,
                                     pooled=False):
            return conn.sock
        return None

    @staticmethod
    def connect(endpoint: Endpoint, tls: UpstreamTls | None, timeout: float) -> Connection:
        sock = socket.create_connection(endpoint, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.context.wrap_socket(sock, server_hostname=tls.server_name)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
        return Connection(sock, endpoint, tls)


def _why(error: OSError) -> str:
    """A connection failure in a few words (for the 502's body and the log)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: the backend's certificate does not verify: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed: {error.reason or error}"
    return error.strerror or str(error) or type(error).__name__
