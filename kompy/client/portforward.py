"""Port-forward on any cluster: one TCP connection to a pod's port through the API server.

Each connection is one WebSocket to ``pods/NAME/portforward?ports=PORT`` with subprotocol
``v4.channel.k8s.io``: the kubelet's WebSocket port-forward, which kube-apiserver relays on
every version (client libraries in Python and JavaScript use it). Channel 0 carries the
data, channel 1 an error message if the pod's port cannot be reached; each begins with the
port number (uint16, little-endian). kubectl itself tunnels SPDY instead; the built-in API
server speaks both (kompy/cluster/apiserver/streams.py).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Protocol

from kompy.client import resources, upgrade, websocket
from kompy.errors import ClusterError

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1
HALF_CLOSE_GRACE = 1.0


class PortForwardError(ClusterError):
    """The pod's port could not be reached (the server's message)."""


class Connection(Protocol):
    """What :func:`relay` carries bytes over."""

    def recv(self) -> bytes | None: ...
    def send(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class PodConnection:
    """A connection to a pod's port: bytes both ways until either side closes."""

    def __init__(self, ws: websocket.WebSocket, port: int) -> None:
        self.ws = ws
        self.port = port
        self._seen = {DATA: False, ERROR: False}
        self.error = b""

    def recv(self) -> bytes | None:
        """The next bytes from the pod; None at the end. PortForwardError when the server
        reports that it could not connect."""
        while (message := self.ws.receive()) is not None:
            if not message:
                continue
            channel, data = message[0], message[1:]
            if channel not in self._seen:
                continue
            if not self._seen[channel]:
                self._seen[channel] = True     # the first message names the port
                data = data[2:]
            if channel == DATA and data:
                return data
            if channel == ERROR:
                self.error += data
        if self.error:
            raise PortForwardError(self.error.decode(errors="replace"))
        return None

    def send(self, data: bytes) -> None:
        self.ws.send(bytes([DATA]) + data)

    def close(self) -> None:
        self.ws.close()
        self.ws.wait_closed(5.0)


def dial(client: upgrade.Client, pod: str, namespace: str, port: int) -> PodConnection:
    """Open a connection to ``port`` of the pod."""
    path = resources.lookup("pods").path(namespace, pod, "portforward")
    ws = upgrade.open_websocket(client, path, [("ports", str(port))], (PROTOCOL,),
                                name="port-forward")
    return PodConnection(ws, port)


def relay(conn: Connection, local: socket.socket) -> str | None:
    """Carry bytes between a local socket and the pod until both are done; the server's
    error message, if it could not reach the pod's port."""
    failure: list[str] = []

    def pod_to_local() -> None:
        try:
            while (data := conn.recv()) is not None:
                local.sendall(data)
        except PortForwardError as error:
            failure.append(str(error))
        except OSError:
            pass
        with contextlib.suppress(OSError):
            local.shutdown(socket.SHUT_WR)
    back = threading.Thread(target=pod_to_local, name="port-forward-in", daemon=True)
    back.start()
    try:
        while data := local.recv(65536):
            conn.send(data)
    except (OSError, websocket.WebSocketError):
        pass
    # WebSocket port-forward has no half-close: once the local program is done sending, the
    # pod has a moment to finish its answer (a client that half-closed still reads it), then
    # the connection goes, and the server closes the pod's side.
    back.join(HALF_CLOSE_GRACE)
    conn.close()
    back.join()
    local.close()
    return failure[0] if failure else None
