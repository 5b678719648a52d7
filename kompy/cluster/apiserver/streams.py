"""The streaming endpoints: ``pods/exec``, ``pods/attach`` and ``pods/portforward`` on an
upgraded connection, as kube-apiserver serves them.

- WebSocket (RFC 6455), what kubectl 1.30+ uses for exec and attach: subprotocol
  ``v5.channel.k8s.io`` (kubectl's), ``v4.channel.k8s.io`` (client libraries: the Python
  and JavaScript clients), ``channel.k8s.io``; every message starts with its channel
  (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize), and v5 adds the close signal
  ``[255, channel]`` that ends one direction of one stream (k8s.io/apimachinery
  util/httpstream/wsstream). Port-forward over WebSocket channels is the kubelet's
  ``v4.channel.k8s.io`` protocol: two channels per forwarded port (data, error), each
  opened by the port number (uint16, little-endian).
- WebSocket tunnelling SPDY (``SPDY/3.1+portforward.k8s.io``): kubectl 1.31+'s
  port-forward (the PortForwardWebsockets feature); and plain SPDY/3.1 upgrades, what
  kubectl 1.27-1.29 (exec, attach) and 1.27-1.30 (port-forward) send: spdy.py.

Everything that can be refused is refused before the upgrade, as an HTTP answer with a
``Status`` body (kubectl prints it: ``error: unable to upgrade connection: ...``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from kompy.client import websocket
from kompy.client.errors import ApiError
from kompy.cluster.apiserver import remotecommand, spdystreams
from kompy.cluster.apiserver.handlers import Api, Route, bad_request
from kompy.cluster.apiserver.remotecommand import ERROR, RESIZE, STDERR, STDIN, STDOUT, Options

log = logging.getLogger(__name__)

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V1 = "channel.k8s.io"
EXEC_PROTOCOLS = (V5, V4, V1)
PORTFORWARD_PROTOCOLS = (V4, V1)
SPDY_TUNNEL_PREFIX = "SPDY/3.1+"   # k8s.io/apimachinery/pkg/util/portforward
PORTFORWARD_SPDY = "portforward.k8s.io"
CLOSE_SIGNAL = 255


class StreamRouter(Protocol):
    """What of the API server's Router this needs."""

    @property
    def api(self) -> Api: ...
    def refuse(self, path: str, headers: Any) -> ApiError | None: ...
    def authorize_upgrade(self, headers: Any, route: Route) -> None: ...


@dataclass(frozen=True)
class Upgrade:
    """An upgrade request as the HTTP front read it."""

    method: str
    target: str
    headers: Any                 # email.message.Message-like: .get(name)
    head: bytes                  # the request line and headers as received
    sock: socket.socket


def is_upgrade(headers: Any) -> bool:
    return bool(headers.get("Upgrade"))


def serve(router: StreamRouter, request: Upgrade, answer: Callable[[ApiError], None],
          parse_route: Callable[[list[str]], Route | None]) -> None:
    """Serve one upgrade request on its connection, until the session ends."""
    try:
        session = _prepare(router, request, parse_route)
    except ApiError as error:
        answer(error)
        return
    except Exception as error:  # noqa: BLE001 - the server must survive any request
        log.exception("%s %s failed", request.method, request.target)
        answer(ApiError(500, "InternalError", f"internal error: {type(error).__name__}: "
                                              f"{error}"))
        return
    session()


def _prepare(router: StreamRouter, request: Upgrade,
             parse_route: Callable[[list[str]], Route | None]) -> Callable[[], None]:
    """Check the request and start what it asks for; the session to run once upgraded."""
    api = router.api
    url = urlsplit(request.target)
    refusal = router.refuse(url.path.rstrip("/") or "/", request.headers)
    if refusal is not None:     # shutting down, or not authenticated: as every request
        raise refusal
    query = parse_qs(url.query, keep_blank_values=True)
    route = parse_route((url.path.rstrip("/") or "/").strip("/").split("/"))
    if route is None or route.res.kind != "Pod" or route.subresource not in (
            "exec", "attach", "portforward"):
        raise bad_request("only pods/exec, pods/attach and pods/portforward can be upgraded")
    assert route.namespace and route.name
    router.authorize_upgrade(request.headers, route)
    kind = (request.headers.get("Upgrade") or "").strip().lower()
    if kind != "websocket" and not kind.startswith("spdy/"):
        raise bad_request(f"unsupported upgrade {kind!r}: use websocket or SPDY/3.1")
    if route.subresource == "portforward":
        return _prepare_portforward(api, route, query, request, kind)
    named = query.get("container")
    _, container = api.pod_container(route, named[-1] if named else None)
    options = Options.parse(query)
    if not (options.stdin or options.stdout or options.stderr):
        raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
    protocol = spdystreams.negotiate(request.headers, spdystreams.EXEC_PROTOCOLS) \
        if kind.startswith("spdy/") else ""
    io = api.io()
    if route.subresource == "exec":
        process = io.exec_streams(route.namespace, route.name, container,
                                  list(options.command), stdin=options.stdin, tty=options.tty)
    else:
        process = io.attach(route.namespace, route.name, container, stdin=options.stdin,
                            tty=options.tty)

    def session() -> None:
        try:
            transport = _exec_transport(request, protocol, options)
        except Exception:
            process.close()
            raise
        remotecommand.run(process, transport, options)
    return session


def _exec_transport(request: Upgrade, spdy_protocol: str, options: Options
                    ) -> remotecommand.Transport:
    if spdy_protocol:
        carrier = spdystreams.upgrade_raw(request.sock, spdy_protocol)
        return spdystreams.SpdyTransport(carrier, spdy_protocol, options)
    ws = websocket.accept(request.sock, request.head, EXEC_PROTOCOLS, name="exec")
    return ChannelTransport(ws, ws.subprotocol or V1, options)


class ChannelTransport:
    """An exec or attach session on a WebSocket's channels (remotecommand.Transport)."""

    def __init__(self, ws: websocket.WebSocket, protocol: str, options: Options) -> None:
        self.ws = ws
        self.close_signal = protocol == V5
        self.json_status = protocol in (V5, V4)
        # "an empty message on the lowest writable channel tells the client the connection is
        # established" (kube-apiserver's proxy/websocket.go).
        first = STDOUT if options.stdout else STDERR if options.stderr else ERROR
        self._send(bytes([first]))

    def _send(self, message: bytes) -> None:
        try:
            self.ws.send(message)
        except websocket.WebSocketError as error:
            raise ConnectionResetError(str(error)) from error

    def send(self, stream: int, data: bytes) -> None:
        self._send(bytes([stream]) + data)

    def incoming(self) -> Iterator[tuple[int, bytes | None]]:
        while (message := self.ws.receive()) is not None:
            if not message:
                continue
            channel = message[0]
            if channel == CLOSE_SIGNAL and self.close_signal:
                if len(message) > 1 and message[1] == STDIN:
                    yield STDIN, None
            elif channel in (STDIN, RESIZE) and len(message) > 1:
                yield channel, message[1:]

    def finish(self, status: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionResetError):
            if self.json_status:
                self._send(bytes([ERROR]) + json.dumps(status).encode())
            elif status.get("status") != "Success":
                self._send(bytes([ERROR]) + str(status.get("message") or "").encode())
        # Then the close frame, and the connection ends when the client answers it: it
        # closes once it has read everything (kube-apiserver's conns.finish).
        self.ws.close()
        self.ws.wait_closed()


# -- port-forward ------------------------------------------------------------------------------
def parse_ports(query: dict[str, list[str]]) -> list[int]:
    """The ``ports`` parameter (repeated, or comma-separated) of a WebSocket port-forward."""
    ports: list[int] = []
    for value in query.get("ports") or []:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                port = int(part)
            except ValueError:
                raise bad_request(f"invalid port {part!r}") from None
            if not 0 < port < 65536:
                raise bad_request(f"port {port} must be in the range 1-65535")
            ports.append(port)
    return ports


def _prepare_portforward(api: Api, route: Route, query: dict[str, list[str]],
                         request: Upgrade, kind: str) -> Callable[[], None]:
    assert route.namespace and route.name
    api.get(route)                                  # 404 for a pod that does not exist
    address = api.io().pod_address(route.namespace, route.name)
    offered = websocket.offered_subprotocols(request.headers.get("Sec-WebSocket-Protocol"))
    if kind.startswith("spdy/") or any(p.startswith(SPDY_TUNNEL_PREFIX) for p in offered):
        return spdystreams.portforward_session(request.sock, request.head, request.headers,
                                               kind.startswith("spdy/"), address)
    ports = parse_ports(query)
    if not ports:
        raise bad_request("query parameter \"port\" is required")

    def session() -> None:
        ws = websocket.accept(request.sock, request.head, PORTFORWARD_PROTOCOLS,
                              name="port-forward")
        forward_channels(ws, address, ports)
    return session


def forward_channels(ws: websocket.WebSocket, address: str, ports: list[int]) -> None:
    """The kubelet's WebSocket port-forward: port i on channels 2i (data) and 2i+1 (error);
    the connection ends when every forwarded connection has."""
    conns: list[socket.socket | None] = []
    for index, port in enumerate(ports):
        for channel in (2 * index, 2 * index + 1):
            ws.send(bytes([channel]) + struct.pack("<H", port))
        try:
            conns.append(socket.create_connection((address, port), timeout=10))
        except OSError as error:
            conns.append(None)
            ws.send(bytes([2 * index + 1]) + (
                f"error forwarding port {port} to pod: dial tcp {address}:{port}: "
                f"{error.strerror or error}").encode())
    pumps = [threading.Thread(target=_pod_to_channel, args=(conn, ws, 2 * i), daemon=True,
                              name="port-forward-out")
             for i, conn in enumerate(conns) if conn is not None]
    for pump in pumps:
        pump.start()
    def watch() -> None:
        for pump in pumps:
            pump.join()
        ws.close()
    threading.Thread(target=watch, daemon=True, name="port-forward-end").start()
    try:
        while (message := ws.receive()) is not None:
            channel, data = (message[0], message[1:]) if message else (-1, b"")
            if channel % 2 == 0 and channel // 2 < len(conns) and data:
                conn = conns[channel // 2]
                if conn is not None:
                    with contextlib.suppress(OSError):
                        conn.sendall(data)
    finally:
        for conn in conns:
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        ws.close()
        ws.wait_closed()


def _pod_to_channel(conn: socket.socket, ws: websocket.WebSocket, channel: int) -> None:
    conn.settimeout(None)
    prefix = bytes([channel])
    try:
        while data := conn.recv(65536):
            ws.send(prefix + data)
    except (OSError, websocket.WebSocketError):
        pass
