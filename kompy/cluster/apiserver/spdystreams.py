"""Exec, attach and port-forward over SPDY/3.1 (spdy.py), as the kubelet serves them.

- Exec and attach (kubectl 1.27-1.29): the client asks for ``X-Stream-Protocol-Version``
  ``v4.channel.k8s.io`` (or v3, v2), then opens one stream per standard stream, each named
  by its ``streamType`` header (``error``, ``stdin``, ``stdout``, ``stderr``, ``resize``).
  Standard input ends with the stream's FIN; the status goes on the error stream
  (k8s.io/kubelet/pkg/cri/streaming/remotecommand/httpstream.go).
- Port-forward (protocol ``portforward.k8s.io``): for each connection the client opens an
  ``error`` and a ``data`` stream with the same ``requestID`` and the ``port``; the data
  stream carries the bytes, the error stream a message if the pod's port cannot be reached
  (k8s.io/kubelet/pkg/cri/streaming/portforward/httpstream.go). kubectl 1.31+ sends the
  same SPDY session inside a WebSocket (``SPDY/3.1+portforward.k8s.io``).
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kompy.client import websocket
from kompy.client.errors import ApiError
from kompy.client.wire import RawWire
from kompy.cluster.apiserver.remotecommand import ERROR, RESIZE, STDERR, STDIN, STDOUT, Options
from kompy.cluster.apiserver.spdy import Carrier, Session, Stream

EXEC_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io")
PORTFORWARD = "portforward.k8s.io"
TUNNEL = "SPDY/3.1+" + PORTFORWARD
STREAMS_TIMEOUT = 30.0    # the kubelet's streamCreationTimeout
STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR,
                "resize": RESIZE}


def negotiate(headers: Any, supported: tuple[str, ...]) -> str:
    """The first protocol of the client's ``X-Stream-Protocol-Version`` list that this server
    speaks (k8s.io/apimachinery httpstream.Handshake); 403 Forbidden when none."""
    values = headers.get_all("X-Stream-Protocol-Version") if hasattr(headers, "get_all") \
        else [headers.get("X-Stream-Protocol-Version")]
    offered = [p.strip() for value in values or [] if value for p in value.split(",")
               if p.strip()]
    chosen: str | None = next((str(p) for p in offered if p in supported), None)
    if chosen is None:
        raise ApiError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: "
                                         f"client supports {offered}, server supports "
                                         f"{list(supported)}")
    return chosen


def upgrade_raw(sock: socket.socket, protocol: str) -> RawWire:
    """Answer 101 and take over the connection as plain bytes."""
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                  f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n\r\n"
                  ).encode())
    return RawWire(sock, name="spdy-wire")


# -- exec and attach ---------------------------------------------------------------------------
class SpdyTransport:
    """An exec or attach session on SPDY streams (remotecommand.Transport)."""

    def __init__(self, carrier: Carrier, protocol: str, options: Options) -> None:
        self.protocol = protocol
        self.options = options
        self._arrived: queue.Queue[Stream] = queue.Queue()
        self.session = Session(carrier, self._arrived.put, name="spdy-exec").start()
        self.streams: dict[int, Stream] = {}
        wanted = {ERROR} | {s for s, on in ((STDIN, options.stdin), (STDOUT, options.stdout),
                                            (STDERR, options.stderr)) if on}
        if options.tty and protocol != "v2.channel.k8s.io":
            wanted.add(RESIZE)
        while not wanted <= set(self.streams):
            try:
                stream = self._arrived.get(timeout=STREAMS_TIMEOUT)
            except queue.Empty:
                self.session.close()
                raise ConnectionResetError("timed out waiting for the client's streams") \
                    from None
            kind = STREAM_TYPES.get(stream.headers.get("streamtype", ""))
            if kind is None:
                stream.reset()
            else:
                self.streams[kind] = stream

    def send(self, stream: int, data: bytes) -> None:
        target = self.streams.get(stream)
        if target is not None:
            target.write(data)

    def incoming(self) -> Iterator[tuple[int, bytes | None]]:
        items: queue.Queue[tuple[int, bytes | None] | None] = queue.Queue()

        def pump(kind: int, stream: Stream) -> None:
            buffer = b""
            while (data := stream.read()) is not None:
                if kind == STDIN:
                    items.put((STDIN, data))
                    continue
                buffer += data      # resize: a stream of JSON objects, one a line
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    items.put((RESIZE, line))
            if kind == STDIN:
                items.put((STDIN, None))
        for kind in (STDIN, RESIZE):
            if kind in self.streams:
                threading.Thread(target=pump, args=(kind, self.streams[kind]), daemon=True,
                                 name="spdy-input").start()
        def ended() -> None:
            self.session.wait()
            items.put(None)
        threading.Thread(target=ended, daemon=True, name="spdy-end").start()
        while (item := items.get()) is not None:
            yield item

    def finish(self, status: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            for kind in (STDOUT, STDERR):
                if kind in self.streams:
                    self.streams[kind].close()
            error = self.streams[ERROR]
            if self.protocol == "v4.channel.k8s.io":
                error.write(json.dumps(status).encode())
            elif status.get("status") != "Success":
                error.write(str(status.get("message") or "").encode())
            error.close()
        # The client closes the connection once it has read everything.
        self.session.carrier.close()
        self.session.wait()
        self.session.carrier.wait_closed()


# -- port-forward ------------------------------------------------------------------------------
def portforward_session(sock: socket.socket, head: bytes, headers: Any, plain: bool,
                        address: str) -> Callable[[], None]:
    """A port-forward session to the pod at ``address``: plain SPDY, or tunnelled in a
    WebSocket. Called before the upgrade, so a refusal is still an HTTP answer."""
    if plain:
        negotiate(headers, (PORTFORWARD,))

    def session() -> None:
        carrier: Carrier
        if plain:
            carrier = upgrade_raw(sock, PORTFORWARD)
        else:
            carrier = websocket.accept(sock, head, (TUNNEL,), name="spdy-tunnel")
        forwarder = _Forwarder(address)
        spdy = Session(carrier, forwarder.add, name="spdy-portforward").start()
        spdy.wait()
        carrier.close()
        carrier.wait_closed()
    return session


class _Forwarder:
    """Pairs each connection's error and data streams (by ``requestID``) and relays the data
    stream to the pod's port."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.pending: dict[str, dict[str, Stream]] = {}
        self.lock = threading.Lock()

    def add(self, stream: Stream) -> None:
        kind = stream.headers.get("streamtype", "")
        if kind not in ("data", "error"):
            stream.reset()
            return
        key = stream.headers.get("requestid") or stream.headers.get("port", "")
        with self.lock:
            pair = self.pending.setdefault(key, {})
            pair[kind] = stream
            if len(pair) < 2:
                return
            del self.pending[key]
        threading.Thread(target=self.forward, args=(pair["data"], pair["error"]), daemon=True,
                         name="spdy-forward").start()

    def forward(self, data: Stream, error: Stream) -> None:
        port_text = data.headers.get("port", "")
        try:
            port = int(port_text)
            conn = socket.create_connection((self.address, port), timeout=10)
        except (ValueError, OSError) as failure:
            reason = failure.strerror if isinstance(failure, OSError) and failure.strerror \
                else failure
            with contextlib.suppress(OSError):
                error.write(f"error forwarding port {port_text} to pod: dial tcp "
                            f"{self.address}:{port_text}: {reason}".encode())
            error.close()
            data.close()
            return
        conn.settimeout(None)

        def client_to_pod() -> None:
            try:
                while (chunk := data.read()) is not None:
                    conn.sendall(chunk)
                conn.shutdown(socket.SHUT_WR)     # the client is done sending: half-close
            except OSError:
                pass
        forth = threading.Thread(target=client_to_pod, daemon=True, name="spdy-forward-in")
        forth.start()
        try:
            while chunk := conn.recv(65536):
                data.write(chunk)
        except OSError:
            pass
        # The pod closed its side: the streams end a moment later whatever the client still
        # sends (the kubelet's socat relay waited 0.5 s the same way), so kubectl closes its
        # local connection and the program on it sees the end.
        forth.join(0.5)
        data.close()
        error.close()
        conn.close()
        data.reset_remote()
