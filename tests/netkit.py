"""Sockets the unit and integration tests share (tests/conftest.py puts this folder on
sys.path): whether 127.0.0.1:PORT accepts a connection, and an echo server that answers in
capitals, so a test sees that its bytes reached the server and came back through the stream
under test."""

from __future__ import annotations

import socket
import threading


def accepts(port: int) -> bool:
    """Whether something accepts a TCP connection on 127.0.0.1:``port`` now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def echo_server() -> tuple[socket.socket, int]:
    """A TCP server on 127.0.0.1 that sends back what it receives in capitals, each connection
    on a thread of its own; the caller closes the returned socket to stop it."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data.upper())
    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]
