"""The DNS wire format, through dnspython: the one module that imports it.

dnspython parses queries and builds answers (name compression, EDNS, truncation with the TC
bit when an answer does not fit the client's UDP size) and asks upstream servers. The server
(:mod:`.server`) only moves bytes; the zone (:mod:`.zone`) only knows records as text.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kompy.cluster.dns.zone import Answer, Record

# RFC 1035: a UDP answer to a client that announced no bigger size (EDNS) fits in 512 bytes.
CLASSIC_UDP_SIZE = 512
OUR_UDP_SIZE = 1232  # the DNS flag day 2020 recommendation


@dataclass
class Query:
    """A parsed question; ``message`` is dnspython's, kept for answering and forwarding."""

    message: Any
    qname: str
    qtype: str
    qclass: str

    @property
    def udp_size(self) -> int:
        """How big a UDP answer the client takes."""
        if self.message.edns >= 0:
            return max(CLASSIC_UDP_SIZE, min(int(self.message.payload), OUR_UDP_SIZE))
        return CLASSIC_UDP_SIZE


def parse(data: bytes) -> Query | None:
    """The query in ``data``; None when it is not a well-formed query with one question."""
    try:
        message = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError):
        return None
    if message.flags & dns.flags.QR or len(message.question) != 1:
        return None
    question = message.question[0]
    return Query(message, question.name.to_text(), dns.rdatatype.to_text(question.rdtype),
                 dns.rdataclass.to_text(question.rdclass))


def query_id(data: bytes) -> int | None:
    return int.from_bytes(data[:2], "big") if len(data) >= 2 else None


def error(data: bytes, rcode: str) -> bytes | None:
    """A bare answer with ``rcode`` (FORMERR, SERVFAIL, REFUSED, NOTIMP) to a query that
    could at least be read as far as its header; None when not even that."""
    ident = query_id(data)
    if ident is None:
        return None
    try:
        message = dns.message.from_wire(data)
        response = dns.message.make_response(message)
    except (dns.exception.DNSException, ValueError):
        response = dns.message.Message(id=ident)
        response.flags |= dns.flags.QR
    response.set_rcode(dns.rcode.from_text(rcode))
    return bytes(response.to_wire())


def answer(query: Query, result: Answer, soa: Record, *, max_size: int = 65535,
           extra: list[Any] | None = None) -> bytes:
    """The response to ``query``: the zone's records (and ``extra`` rrsets, an upstream's
    answer to a CNAME's target), the SOA in the authority section of an empty answer, the
    AA bit on what the zone owns; truncated with TC set if it exceeds ``max_size``."""
    response = dns.message.make_response(query.message, recursion_available=True,
                                         our_payload=OUR_UDP_SIZE)
    if result.authoritative:
        response.flags |= dns.flags.AA
    response.set_rcode(dns.rcode.from_text(result.rcode))
    for record in result.records:
        _add(response.answer, record)
    for rrset in extra or []:
        response.answer.append(rrset)
    if not result.records:
        _add(response.authority, soa)
    for record in result.additional:
        _add(response.additional, record)
    return bytes(response.to_wire(max_size=max_size, prefer_truncation=True))


def _add(section: list[Any], record: Record) -> None:
    name = dns.name.from_text(record.name)
    for rrset in section:
        if rrset.name == name and dns.rdatatype.to_text(rrset.rdtype) == record.type:
            rrset.add(dns.rrset.from_text(name, record.ttl, "IN", record.type, record.data)[0])
            return
    section.append(dns.rrset.from_text(name, record.ttl, "IN", record.type, record.data))


def forward(query: Query, servers: list[tuple[str, int]], timeout: float, tcp: bool
            ) -> bytes | None:
    """The first upstream's answer to ``query`` (its id kept), over UDP (TCP when the
    client asked over TCP, or the answer came truncated); None when none answers."""
    for host, port in servers:
        try:
            if tcp:
                reply = dns.query.tcp(query.message, host, timeout=timeout, port=port)
            else:
                reply = dns.query.udp(query.message, host, timeout=timeout, port=port,
                                      ignore_unexpected=True)
        except (dns.exception.DNSException, OSError):
            continue
        return bytes(reply.to_wire())
    return None


def fit(reply: bytes, size: int) -> bytes:
    """An upstream's answer cut down to ``size`` bytes, with the TC bit (the client asks
    again over TCP)."""
    try:
        message = dns.message.from_wire(reply)
    except (dns.exception.DNSException, ValueError):
        return reply[:0]
    return bytes(message.to_wire(max_size=size, prefer_truncation=True))


def resolve(name: str, qtype: str, servers: list[tuple[str, int]], timeout: float
            ) -> list[Any]:
    """The upstream's answer rrsets for ``name`` (for a CNAME whose target is outside the
    zone); [] when it has none or none answers."""
    message = dns.message.make_query(name, qtype)
    for host, port in servers:
        try:
            reply = dns.query.udp(message, host, timeout=timeout, port=port,
                                  ignore_unexpected=True)
        except (dns.exception.DNSException, OSError):
            continue
        return list(reply.answer)
    return []


def read_tcp(sock: socket.socket, timeout: float) -> bytes | None:
    """One length-prefixed message from a TCP client; None at its end."""
    sock.settimeout(timeout)
    try:
        head = _exactly(sock, 2)
        if head is None:
            return None
        return _exactly(sock, int.from_bytes(head, "big"))
    except OSError:
        return None


def _exactly(sock: socket.socket, count: int) -> bytes | None:
    chunks, left = [], count
    while left:
        chunk = sock.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_tcp(sock: socket.socket, data: bytes) -> None:
    sock.sendall(len(data).to_bytes(2, "big") + data)
