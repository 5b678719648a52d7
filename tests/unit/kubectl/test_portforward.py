"""kompy port-forward's local side: mappings, target ports, and the accept-and-relay loop (the
pod connection is a plain socket to a local echo server here; the real one, through the API
server, is tested in tests/unit/cluster/test_streams.py)."""

from __future__ import annotations

import socket
import threading

import pytest
from netkit import echo_server

from kompy.errors import UserError
from kompy.kubectl import portforward


class SocketConnection:
    """A pod connection that is a TCP connection to a local server."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def recv(self) -> bytes | None:
        return self.sock.recv(65536) or None

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def test_each_connection_is_relayed_through_its_own_pod_connection() -> None:
    upstream, port = echo_server()
    sock = portforward.listen(0)
    local = sock.getsockname()[1]
    stop = threading.Event()
    lines: list[str] = []
    dialled: list[SocketConnection] = []

    def dial() -> SocketConnection:
        dialled.append(SocketConnection(port))
        return dialled[-1]
    thread = threading.Thread(target=portforward.serve, args=(sock, dial, 80, lines.append, stop),
                              daemon=True)
    thread.start()
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", local), timeout=5) as client:
                client.sendall(b"hello")
                client.shutdown(socket.SHUT_WR)
                assert client.recv(100) == b"HELLO"
    finally:
        stop.set()
        thread.join(5)
        sock.close()
        upstream.close()
    assert lines.count(f"Handling connection for {local}") == 3
    assert len(dialled) == 3


@pytest.mark.parametrize(("spec", "ports"), [("8080:80", (8080, "80")), ("80", (80, "80")),
                                             (":80", (0, "80")), ("8080:http", (8080, "http"))])
def test_parse_ports(spec: str, ports: tuple[int, str]) -> None:
    assert portforward.parse_ports(spec) == ports


@pytest.mark.parametrize("spec", ["web:80", "http", "8080:", "8080:0", "70000:80", "1:99999"])
def test_bad_ports(spec: str) -> None:
    with pytest.raises(UserError):
        portforward.parse_ports(spec)


def test_service_and_pod_ports_map_to_container_ports() -> None:
    pod = {"metadata": {"name": "p"},
           "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}}
    svc = {"spec": {"ports": [{"port": 80, "name": "web", "targetPort": "http"},
                              {"port": 81, "targetPort": 9000}, {"port": 82}]}}
    assert portforward._target_port(pod, svc, "80") == 8080
    assert portforward._target_port(pod, svc, "web") == 8080
    assert portforward._target_port(pod, svc, "81") == 9000
    assert portforward._target_port(pod, svc, "82") == 82
    assert portforward._target_port(pod, None, "http") == 8080
    assert portforward._target_port(pod, None, "5000") == 5000
    with pytest.raises(UserError, match="no port 83"):
        portforward._target_port(pod, svc, "83")
    with pytest.raises(UserError, match="no port named 'grpc'"):
        portforward._target_port(pod, None, "grpc")
