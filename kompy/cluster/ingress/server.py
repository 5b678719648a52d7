"""The Ingress's listeners: plain HTTP, and HTTPS where each connection's ClientHello is read
first (without consuming it) to decide between the two ways TLS is handled:

- **passthrough**: the SNI name is a host whose Ingress asks for ``ssl-passthrough``; the raw
  TLS stream is relayed to the host's backend, which terminates it (end-to-end TLS);
- **termination** (edge, and re-encryption when the backend speaks HTTPS): the handshake is
  done here with the certificate of the SNI host (the default certificate for others), then
  the requests are proxied as over HTTP.

A thread per connection (blocking sockets, as the Service proxy), at most
``MAX_CONNECTIONS`` at once: above that, new connections are closed at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable

from kompy.cluster.ingress import http1
from kompy.cluster.ingress.table import Backend
from kompy.cluster.ingress.tlsctx import NOT_TLS, edge_context, sniff_server_name
from kompy.cluster.proxy.tcpproxy import pump

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 2048
HANDSHAKE_SECONDS = 10.0


class Listener:
    """One listening socket and its accept loop."""

    def __init__(self, sock: socket.socket, scheme: str,
                 handle: Callable[[socket.socket, str, int], None]) -> None:
        self.sock = sock
        self.scheme = scheme
        self.port = int(sock.getsockname()[1])
        self._handle = handle
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name=f"ingress-{scheme}-{self.port}",
                                        daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                log.warning("ingress %s:%d: %d connections open; refusing more", self.scheme,
                            self.port, MAX_CONNECTIONS)
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn, peer[0]), daemon=True,
                             name=f"ingress-conn-{self.port}").start()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        try:
            self._handle(conn, peer, self.port)
        except Exception:  # noqa: BLE001 - one connection must never take the listener down
            log.exception("ingress: connection from %s failed", peer)
            with contextlib.suppress(OSError):
                conn.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class Front:
    """What the listeners do with a connection, given the controller (``site``)."""

    def __init__(self, site: http1.Site, default_context: ssl.SSLContext) -> None:
        self.site = site
        self.edge = edge_context(default_context, self._context_for)
        self.default = default_context

    def _context_for(self, server_name: str | None) -> ssl.SSLContext | None:
        if not server_name:
            return None
        tls = self.site.table().server_for(server_name).tls
        return tls if isinstance(tls, ssl.SSLContext) else None

    def http(self, conn: socket.socket, peer: str, port: int) -> None:
        http1.serve(conn, http1.ClientInfo("http", port, peer, ""), self.site)

    def https(self, conn: socket.socket, peer: str, port: int) -> None:
        name = sniff_server_name(conn, HANDSHAKE_SECONDS)
        if name == NOT_TLS:
            http1.refuse_plain(conn, port)
            return
        if name:
            backend = self.site.table().server_for(name).passthrough
            if backend is not None:
                self._pass_through(conn, backend, peer)
                return
        conn.settimeout(HANDSHAKE_SECONDS)
        try:
            tls = self.edge.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as error:
            log.debug("TLS handshake with %s failed: %s", peer, error)
            with contextlib.suppress(OSError):
                conn.close()
            return
        http1.serve(tls, http1.ClientInfo("https", port, peer, name or ""), self.site)

    def _pass_through(self, conn: socket.socket, backend: Backend, peer: str) -> None:
        upstream = self.site.dialer.dial_raw(backend)
        if upstream is None:
            log.debug("passthrough from %s: no endpoint of %s answers", peer, backend.label)
            conn.close()
            return
        conn.settimeout(None)
        upstream.settimeout(None)
        try:
            pump(conn, upstream)
        finally:
            conn.close()
            upstream.close()
