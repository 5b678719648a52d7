"""Socket work of the Ingress that is not HTTP: relaying an upgraded connection, and a
lingering close."""

from __future__ import annotations

import select
import socket
import ssl
import time


def relay(a: socket.socket, b: socket.socket, idle: float) -> None:
    """Copy bytes both ways (either side may be TLS) until one side closes or neither sends
    anything for ``idle`` seconds (nginx's proxy_read_timeout holds for upgraded
    connections too)."""
    peers = {a: b, b: a}
    for sock in peers:
        sock.settimeout(idle)
    while True:
        ready: list[socket.socket] = [
            s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(list(peers), [], [], idle)
            if not ready:
                return
        for src in ready:
            try:
                data = src.recv(65536)
            except ssl.SSLWantReadError:
                continue
            if not data:
                return
            peers[src].sendall(data)


def linger(sock: socket.socket, seconds: float, limit: int) -> None:
    """Before closing a connection whose request body was not read (an answer such as 413
    went out first), read and drop what the client still sends, for a few seconds: closing
    with unread data would reset the connection, and the client would lose the answer
    (nginx's lingering_close)."""
    deadline = time.monotonic() + seconds
    try:
        if not isinstance(sock, ssl.SSLSocket):  # a TLS socket's shutdown ends TLS itself
            sock.shutdown(socket.SHUT_WR)
        dropped = 0
        while dropped < limit and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                return
            dropped += len(data)
    except (OSError, ValueError):
        return
