"""HTTP/1.1 reverse proxying of one client connection, on h11 (the only module importing it).

Why h11: a well-kept, pure-Python HTTP/1.1 state machine without I/O of its own, so the
Ingress keeps the threaded design of the rest of the cluster (a thread per connection, as the
Service proxy and the API server), terminates TLS with Python's ``ssl`` on plain sockets, peeks
at ClientHellos for passthrough, and hands a connection over to a raw relay once a WebSocket
upgrade is agreed (h11's SWITCHED_PROTOCOL). h11 does the framing (Content-Length, chunked,
close-delimited, HEAD, 1xx) and refuses malformed messages; this module only decides where a
request goes and copies events between the two sides.

What a backend sees is what ingress-nginx sends (its nginx.tmpl): the client's Host header,
``X-Forwarded-For``/``X-Real-IP`` (the client's address; an incoming X-Forwarded-For is passed
on as ``X-Original-Forwarded-For``), ``X-Forwarded-Host``, ``-Port``, ``-Proto``, ``-Scheme``,
``X-Scheme`` and an ``X-Request-ID``; hop-by-hop headers and ``Proxy`` are dropped. Request
bodies up to 1 MiB are read before the backend is contacted (nginx buffers request bodies
too), which lets a request whose backend connection fails before any answer be sent to
another pod; larger bodies and every response stream through.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import select
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

import h11

from kompy.cluster.ingress.annotations import rewrite
from kompy.cluster.ingress.paths import normal_host, split_target
from kompy.cluster.ingress.sockets import linger, relay
from kompy.cluster.ingress.table import Backend, Route, Server, Table
from kompy.cluster.ingress.upstream import Connection, Dialer

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024          # request or response head (nginx: 4 x 8k buffers, plus slack)
RECV = 65536
FLUSH_AT = 4 * RECV           # gathered output goes out at the latest at this size
KEEPALIVE_SECONDS = 75.0      # nginx's keepalive_timeout: idle time between a client's requests
CLIENT_SECONDS = 60.0         # nginx's client_body_timeout / send_timeout
REPLAY_MAX = 2**20            # request bodies up to this size are read first and can be re-sent
LINGER_SECONDS = 5.0          # nginx's lingering_timeout
LINGER_BYTES = 64 * 2**20
IDEMPOTENT = {b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"}
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
              b"transfer-encoding", b"upgrade", b"proxy"}
# Set by the proxy itself; a client's values are never passed on as they are.
FORWARDED = {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-port",
             b"x-forwarded-proto", b"x-forwarded-scheme", b"x-real-ip", b"x-scheme",
             b"x-original-forwarded-for"}

Headers = list[tuple[bytes, bytes]]


class Site(Protocol):
    """What a connection needs from the Ingress controller."""

    dialer: Dialer

    def table(self) -> Table: ...

    def https_port(self) -> int | None: ...


@dataclass(frozen=True)
class ClientInfo:
    scheme: str        # "http" or "https"
    port: int          # the port the client connected to
    peer: str          # the client's address
    server_name: str   # the TLS SNI name ("" over plain HTTP)


class _Closed(Exception):
    """The peer went away (or timed out) before a whole message arrived."""


class _Peer:
    """One side of the proxy: a socket and its h11 state, with output gathered until a flush
    (a response head and the first body bytes leave in one write)."""

    def __init__(self, sock: socket.socket, conn: h11.Connection) -> None:
        self.sock = sock
        self.conn = conn
        self.out: list[bytes] = []
        self.gathered = 0
        self.received = 0

    def _readable(self) -> bool:
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        try:
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def send(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            self.out.append(data)
            self.gathered += len(data)
            if self.gathered >= FLUSH_AT:  # a long body streams on, never piles up here
                self.flush()

    def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out.clear()
            self.gathered = 0
            self.sock.sendall(data)

    def next_event(self, before_read: Callable[[], None] | None = None) -> Any:
        """The next event, reading as needed; ``before_read`` runs before a read would wait
        (the other side's gathered output goes out then, not while more is at hand)."""
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if before_read is not None and not self._readable():
                before_read()
            data = self.sock.recv(RECV)
            self.received += len(data)
            self.conn.receive_data(data)


def _header(headers: Headers, name: bytes) -> bytes | None:
    return next((v for k, v in headers if k == name), None)


def _tokens(value: bytes | None) -> set[bytes]:
    return {t.strip().lower() for t in (value or b"").split(b",") if t.strip()}


def serve(sock: socket.socket, info: ClientInfo, site: Site) -> None:
    """Serve requests on a client connection until it closes; closes the socket."""
    client = _Peer(sock, h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD))
    try:
        while True:
            sock.settimeout(KEEPALIVE_SECONDS)
            try:
                event = client.next_event()
            except h11.RemoteProtocolError as error:
                _reply(client, error.error_status_hint, f"bad request: {error}\n", None)
                return
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed
            sock.settimeout(CLIENT_SECONDS)
            if not _Exchange(client, event, info, site).run():
                return
            if (client.conn.our_state, client.conn.their_state) != (h11.DONE, h11.DONE):
                return
            client.conn.start_next_cycle()
    except (OSError, h11.ProtocolError, _Closed) as error:
        log.debug("client %s: %s", info.peer, error)
    finally:
        if client.conn.their_state is h11.SEND_BODY:
            linger(sock, LINGER_SECONDS, LINGER_BYTES)
        with contextlib.suppress(OSError):
            sock.close()


def refuse_plain(sock: socket.socket, port: int) -> None:
    """Plain HTTP sent to the HTTPS port: a 400 that says so, as nginx answers."""
    client = _Peer(sock, h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD))
    try:
        sock.settimeout(5.0)
        event = client.next_event()
        _reply(client, 400, f"400 Bad Request: a plain HTTP request was sent to the HTTPS port "
               f"{port}\n", event if isinstance(event, h11.Request) else None)
    except (OSError, h11.ProtocolError) as error:
        log.debug("not TLS on the HTTPS port: %s", error)
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _reply(client: _Peer, status: int, text: str, request: h11.Request | None,
           headers: Headers | None = None) -> None:
    """A response of the proxy's own (an error or a redirect), if one can still be sent."""
    if client.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = text.encode()
    response_headers = [(b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()), *(headers or [])]
    try:
        client.send(h11.Response(status_code=status, headers=response_headers,
                                 reason=HTTPStatus(status).phrase.encode()))
        if request is None or request.method != b"HEAD":
            client.send(h11.Data(data=body))
        client.send(h11.EndOfMessage())
        client.flush()
    except (OSError, h11.LocalProtocolError) as error:
        log.debug("could not answer %s: %s", status, error)


class _Exchange:
    """One request from the client, and its response."""

    def __init__(self, client: _Peer, request: h11.Request, info: ClientInfo, site: Site
                 ) -> None:
        self.client = client
        self.request = request
        self.info = info
        self.site = site
        self.headers: Headers = list(request.headers)
        self.host = (_header(self.headers, b"host") or b"").decode("latin-1") or \
            info.server_name
        self.upgrade = _header(self.headers, b"upgrade") if b"upgrade" in _tokens(
            _header(self.headers, b"connection")) else None

    def reply(self, status: int, text: str, headers: Headers | None = None) -> bool:
        _reply(self.client, status, text, self.request, headers)
        return False  # the request body may be unread: the connection cannot go on

    # -- routing ------------------------------------------------------------------------
    def run(self) -> bool:
        """Answer the request; whether the connection may serve another one."""
        target = self.request.target.decode("latin-1")
        path, query = split_target(target)
        table = self.site.table()
        server = table.server_for(self.host)
        route, match = server.find(path)
        where = f"host {normal_host(self.host) or '(none)'} path {path}"
        if route is None:
            return self.reply(404, f"404 Not Found: no Ingress rule matches {where}\n")
        redirect = self._redirect(server, route, target)
        if redirect is not None:
            return self.reply(308, "308 Permanent Redirect\n", [(b"location", redirect)])
        backend = route.backend
        if backend is None:
            return self.reply(404, f"404 Not Found: no Ingress rule matches {where}, and "
                              "its host has no default backend\n")
        if backend.problem:
            return self.reply(503, f"503 Service Unavailable: {backend.problem}\n")
        if not backend.endpoints:
            return self.reply(503, f"503 Service Unavailable: service {backend.namespace}/"
                              f"{backend.label} has no ready endpoint\n")
        if route.options.rewrite_target is not None:
            target = rewrite(route.options.rewrite_target, match, query)
        return self._proxy(route, backend, target.encode("latin-1"))

    def _redirect(self, server: Server, route: Route, target: str) -> bytes | None:
        """The https URL of a plain-HTTP request that must go over TLS (ssl-redirect, on by
        default for hosts with TLS; force-ssl-redirect), as ingress-nginx answers with 308."""
        options = route.options
        if self.info.scheme != "http" or not (
                options.force_ssl_redirect or (options.ssl_redirect and server.tls is not None)):
            return None
        port = self.site.https_port()
        if port is None or not self.host:
            return None
        host = self.host.rsplit(":", 1)[0] if not self.host.endswith("]") else self.host
        authority = host if port == 443 else f"{host}:{port}"
        return f"https://{authority}{target}".encode("latin-1")

    # -- the request to the backend -----------------------------------------------------
    def _upstream_headers(self, framing: Headers) -> Headers:
        connection_listed = _tokens(_header(self.headers, b"connection"))
        out = [(k, v) for k, v in self.headers
               if k not in HOP_BY_HOP and k not in FORWARDED and k not in connection_listed
               and k != b"content-length" and k != b"expect"]
        if self.upgrade is not None:
            out += [(b"connection", b"upgrade"), (b"upgrade", self.upgrade)]
        peer = self.info.peer.encode()
        proto = self.info.scheme.encode()
        original = _header(self.headers, b"x-forwarded-for")
        if _header(self.headers, b"x-request-id") is None:
            out.append((b"x-request-id", secrets.token_hex(16).encode()))
        out += [(b"x-real-ip", peer), (b"x-forwarded-for", peer),
                (b"x-forwarded-host", self.host.encode("latin-1")),
                (b"x-forwarded-port", str(self.info.port).encode()),
                (b"x-forwarded-proto", proto), (b"x-forwarded-scheme", proto),
                (b"x-scheme", proto)]
        if original:
            out.append((b"x-original-forwarded-for", original))
        return out + framing

    def _read_body(self, limit: int | None) -> tuple[bytes, bool] | None:
        """The request body read so far (all of it when small) and whether it is complete;
        None after answering 413."""
        if self.client.conn.client_is_waiting_for_100_continue:
            self.client.send(h11.InformationalResponse(status_code=100, headers=[]))
            self.client.flush()
        body = bytearray()
        while len(body) <= REPLAY_MAX:
            event = self.client.next_event()
            if isinstance(event, h11.EndOfMessage):
                return bytes(body), True
            if isinstance(event, h11.Data):
                body += event.data
                if limit is not None and len(body) > limit:
                    self.reply(413, "413 Request Entity Too Large\n")
                    return None
            elif isinstance(event, h11.ConnectionClosed):
                raise _Closed("client closed during the request body")
        return bytes(body), False

    def _proxy(self, route: Route, backend: Backend, target: bytes) -> bool:
        options = route.options
        length_text = _header(self.headers, b"content-length")
        length = int(length_text) if length_text and length_text.isdigit() else None
        if options.body_limit is not None and length is not None and length > options.body_limit:
            return self.reply(413, "413 Request Entity Too Large\n")
        read = self._read_body(options.body_limit)
        if read is None:
            return False
        body, complete = read
        chunked = b"chunked" in _tokens(_header(self.headers, b"transfer-encoding"))
        if complete:
            framing = [(b"content-length", str(len(body)).encode())] if (
                body or length is not None or chunked) else []
        elif length is not None:
            framing = [(b"content-length", str(length).encode())]
        else:
            framing = [(b"transfer-encoding", b"chunked")]
        head = h11.Request(method=self.request.method, target=target,
                           headers=self._upstream_headers(framing))
        errors: list[str] = []
        for upstream in self.site.dialer.connections(backend, options.connect_timeout, errors):
            outcome = _Attempt(self, upstream, head, body, complete, options.read_timeout).run()
            if outcome is not None:
                return outcome
            upstream.close()
            if not complete:
                break
        why = "; ".join(dict.fromkeys(errors[-3:])) or "no backend answered"
        return self.reply(502, f"502 Bad Gateway: service {backend.namespace}/{backend.label}: "
                          f"{why}\n")


class _Attempt:
    """One try of a request on one backend connection. ``run`` gives whether the client
    connection may go on, or None when the request can be tried on another connection
    (nothing was received from this one, and re-sending is safe)."""

    def __init__(self, exchange: _Exchange, upstream: Connection, head: h11.Request,
                 body: bytes, complete: bool, read_timeout: float) -> None:
        self.x = exchange
        self.conn = upstream
        if upstream.state is None:
            upstream.state = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.up = _Peer(upstream.sock, upstream.state)
        self.head = head
        self.body = body
        self.complete = complete
        self.read_timeout = read_timeout

    def _retryable(self) -> bool:
        """Nothing came back, and the request can be sent again: it was read whole, and it
        either went out on a kept-alive connection the server had closed (the usual race of
        keep-alive) or is idempotent (RFC 9110, 9.2.2)."""
        return (self.complete and self.up.received == 0
                and (self.conn.reused or self.head.method in IDEMPOTENT))

    def run(self) -> bool | None:
        up, client = self.up, self.x.client
        try:
            up.send(self.head)
            if self.body:
                up.send(h11.Data(data=self.body))
            if self.complete:
                up.send(h11.EndOfMessage())
            self.conn.sock.settimeout(self.read_timeout)
            up.flush()
            if not self.complete:
                self._stream_request()
            response = self._response_head()
        except (OSError, h11.RemoteProtocolError, _Closed) as error:
            if isinstance(error, TimeoutError) and up.received == 0:
                return self.x.reply(504, "504 Gateway Timeout: the backend did not answer in "
                                    f"{self.read_timeout:.0f} s\n")
            if self._retryable():
                log.debug("retrying %s on another connection: %s", self.head.target, error)
                return None
            self.conn.close()
            return self.x.reply(502, f"502 Bad Gateway: {error or type(error).__name__}\n")
        if isinstance(response, h11.InformationalResponse):
            return self._switch(response)
        try:
            client.send(h11.Response(status_code=response.status_code, reason=response.reason,
                                     headers=_response_headers(response.headers)))
            while True:
                event = up.next_event(before_read=client.flush)
                if isinstance(event, h11.Data):
                    client.send(h11.Data(data=event.data))
                elif isinstance(event, h11.EndOfMessage):
                    client.send(h11.EndOfMessage())
                    break
                else:
                    raise _Closed(f"backend: {type(event).__name__} in the response body")
            client.flush()
        except (OSError, h11.ProtocolError, _Closed) as error:
            # Half a response went out: all the client can be told is that it ended early.
            log.debug("response from %s:%s cut: %s", *self.conn.endpoint, error)
            self.conn.close()
            return False
        self._release()
        return True

    def _stream_request(self) -> None:
        """The rest of a large request body, from the client to the backend as it comes."""
        while True:
            event = self.x.client.next_event(before_read=self.up.flush)
            if isinstance(event, h11.Data):
                self.up.send(h11.Data(data=event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.up.send(h11.EndOfMessage())
                self.up.flush()
                return
            else:
                raise _Closed("client closed during the request body")

    def _response_head(self) -> h11.Response | h11.InformationalResponse:
        while True:
            event = self.up.next_event()
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    return event
                continue  # 100 Continue was answered to the client already; 103 is dropped
            raise _Closed("the backend closed the connection without answering")

    def _switch(self, response: h11.InformationalResponse) -> bool:
        """A 101 to an upgrade (WebSocket): pass it on, then relay bytes both ways."""
        client = self.x.client
        if self.x.upgrade is None:
            self.conn.close()
            return self.x.reply(502, "502 Bad Gateway: the backend switched protocols "
                                "unasked\n")
        headers = [(k, v) for k, v in response.headers
                   if k not in (b"connection", b"upgrade")]
        upgrade = _header(list(response.headers), b"upgrade") or self.x.upgrade
        client.send(h11.InformationalResponse(status_code=101, reason=response.reason,
                                              headers=headers + [(b"connection", b"upgrade"),
                                                                 (b"upgrade", upgrade)]))
        try:
            client.flush()
            from_client, _ = client.conn.trailing_data
            from_backend, _ = self.up.conn.trailing_data
            if from_client:
                self.conn.sock.sendall(from_client)
            if from_backend:
                client.sock.sendall(from_backend)
            relay(client.sock, self.conn.sock, self.read_timeout)
        except OSError as error:
            log.debug("upgraded connection ended: %s", error)
        finally:
            self.conn.close()
        return False

    def _release(self) -> None:
        """Back to the pool when both sides finished cleanly and the backend keeps it open."""
        state = self.up.conn
        if (state.our_state, state.their_state) == (h11.DONE, h11.DONE):
            state.start_next_cycle()
            self.x.site.dialer.pool.give(self.conn)
        else:
            self.conn.close()


def _response_headers(headers: Any) -> Headers:
    listed = _tokens(_header(list(headers), b"connection"))
    out = [(k, v) for k, v in headers
           if (k not in HOP_BY_HOP or k == b"transfer-encoding") and k not in listed]
    # h11 frames the response for the client itself: only say "chunked", never another
    # transfer coding it would not understand.
    return [(k, b"chunked" if k == b"transfer-encoding" else v) for k, v in out]
