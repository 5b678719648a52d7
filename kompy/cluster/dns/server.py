"""The cluster DNS server: UDP and TCP on one address, port 53.

One thread reads the UDP socket and answers names of the zone at once (a dictionary lookup);
questions for the upstream (names outside the zone, CNAME targets outside it) go to a small
pool so a slow upstream never holds cluster names up. TCP clients (a truncated answer's
retry, or a client that prefers TCP) get a thread each, as the Service proxy's connections.

``allow(client_ip, protocol)`` decides whether a client may ask at all: NetworkPolicy egress
rules of the client's pod (a denied query gets no answer, as a dropped packet would).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from kompy.cluster.dns import wire
from kompy.cluster.dns.upstream import Upstream
from kompy.cluster.dns.zone import Answer, Zone

log = logging.getLogger(__name__)

PORT = 53
TCP_IDLE = 10.0  # seconds a TCP client may stay silent between questions
Allow = Callable[[str, str], bool]


class DnsServer:
    def __init__(self, host: str, zone: Zone, upstream: Upstream, port: int = PORT,
                 allow: Allow | None = None) -> None:
        self.host = host
        self.zone = zone
        self.upstream = upstream
        self.allow = allow
        # Port 0 (tests): a free UDP port whose TCP twin may be taken; then try another.
        for attempt in range(20 if port == 0 else 1):
            try:
                self._udp, self._tcp = _bind(host, port)
                break
            except OSError:
                if attempt == (19 if port == 0 else 0):
                    raise
        self.port = int(self._udp.getsockname()[1])
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="dns-upstream")
        self._threads = [threading.Thread(target=self._serve_udp, name="dns-udp", daemon=True),
                         threading.Thread(target=self._serve_tcp, name="dns-tcp", daemon=True)]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        with contextlib.suppress(OSError):
            self._tcp.shutdown(socket.SHUT_RDWR)
        self._tcp.close()
        for thread in self._threads:
            thread.join(2.0)
        self._udp.close()
        self._wake_r.close()
        self._wake_w.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- UDP ------------------------------------------------------------------------------------
    def _serve_udp(self) -> None:
        while not self._closed:
            try:
                readable, _, _ = select.select([self._udp, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._wake_r in readable:
                return
            try:
                data, peer = self._udp.recvfrom(65535)
            except OSError:
                continue
            if self.allow is not None and not self.allow(peer[0], "UDP"):
                continue
            reply = self._answer(data, tcp=False, defer=partial(self._defer_udp, peer=peer))
            if reply is not None:
                self._send_udp(reply, peer)

    def _defer_udp(self, work: Callable[[], bytes | None], peer: tuple[str, int]) -> None:
        self._pool.submit(self._deferred_udp, work, peer)

    def _deferred_udp(self, work: Callable[[], bytes | None], peer: tuple[str, int]) -> None:
        reply = work()
        if reply is not None:
            self._send_udp(reply, peer)

    def _send_udp(self, reply: bytes, peer: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            self._udp.sendto(reply, peer)

    # -- TCP ------------------------------------------------------------------------------------
    def _serve_tcp(self) -> None:
        while not self._closed:
            try:
                conn, peer = self._tcp.accept()
            except OSError:
                return
            if self.allow is not None and not self.allow(peer[0], "TCP"):
                conn.close()
                continue
            threading.Thread(target=self._tcp_client, args=(conn,), name="dns-tcp-client",
                             daemon=True).start()

    def _tcp_client(self, conn: socket.socket) -> None:
        with conn:
            while not self._closed:
                data = wire.read_tcp(conn, TCP_IDLE)
                if data is None:
                    return
                reply = self._answer(data, tcp=True, defer=None)
                if reply is None:
                    return
                try:
                    wire.write_tcp(conn, reply)
                except OSError:
                    return

    # -- answers --------------------------------------------------------------------------------
    def _answer(self, data: bytes, *, tcp: bool,
                defer: Callable[[Callable[[], bytes | None]], object] | None) -> bytes | None:
        """The reply to ``data``; work that asks the upstream is handed to ``defer`` (UDP:
        answered from the pool) or done here (TCP: this client's own thread)."""
        query = wire.parse(data)
        if query is None:
            return wire.error(data, "FORMERR")
        if query.message.opcode() != 0:  # only standard queries (no NOTIFY, UPDATE...)
            return wire.error(data, "NOTIMP")
        result = self.zone.lookup(query.qname, query.qtype)
        size = 65535 if tcp else query.udp_size
        if result.forward or result.chase:
            def work() -> bytes | None:
                return self._upstream_answer(query, result, size, tcp)
            if defer is None:
                return work()
            defer(work)
            return None
        return wire.answer(query, result, self.zone.soa(), max_size=size)

    def _upstream_answer(self, query: wire.Query, result: Answer, size: int, tcp: bool
                         ) -> bytes | None:
        servers = self.upstream.servers()
        if result.chase:
            extra = wire.resolve(result.chase, query.qtype, servers, self.upstream.timeout)
            return wire.answer(query, result, self.zone.soa(), max_size=size, extra=extra)
        reply = wire.forward(query, servers, self.upstream.timeout, tcp)
        if reply is None:
            log.debug("no upstream answered %s %s", query.qname, query.qtype)
            return wire.error(query.message.to_wire(), "SERVFAIL")
        return reply if len(reply) <= size else wire.fit(reply, size)


def _bind(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((host, port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((host, udp.getsockname()[1]))
        tcp.listen(64)
    except OSError:
        udp.close()
        tcp.close()
        raise
    return udp, tcp
