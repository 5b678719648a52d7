"""The port-forward relay against a local TCP echo server (no cluster needed)."""

from __future__ import annotations

import socket
import threading

import pytest

from kompy.errors import UserError
from kompy.kubectl import portforward


def echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data.upper())
    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_relay_both_ways() -> None:
    upstream, port = echo_server()
    sock = portforward.listen(0)
    local = sock.getsockname()[1]
    stop = threading.Event()
    lines: list[str] = []
    thread = threading.Thread(target=portforward.serve,
                              args=(sock, "127.0.0.1", port, lines.append, stop), daemon=True)
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


@pytest.mark.parametrize(("spec", "ports"), [("8080:80", (8080, 80)), ("80", (80, 80)),
                                             (":80", (0, 80))])
def test_parse_ports(spec: str, ports: tuple[int, int]) -> None:
    assert portforward.parse_ports(spec) == ports


def test_bad_ports() -> None:
    with pytest.raises(UserError):
        portforward.parse_ports("web:80")


def test_service_port_maps_to_named_target_port() -> None:
    pod = {"metadata": {"name": "p"},
           "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}}
    svc = {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}
    assert portforward._target_port(pod, svc, 80) == 8080
    with pytest.raises(UserError):
        portforward._target_port(pod, svc, 81)
