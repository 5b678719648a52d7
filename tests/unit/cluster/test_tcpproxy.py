"""The userspace TCP and UDP proxies on 127.0.0.1: round-robin, refused backends, peer filter."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from kompy.cluster.proxy import tcpproxy
from kompy.cluster.proxy.tcpproxy import TcpListener, UdpListener


def port_of(listener: TcpListener | UdpListener) -> int:
    return int(listener._sock.getsockname()[1])


@contextlib.contextmanager
def tcp_backend(reply: bytes) -> Iterator[tuple[str, int]]:
    """A TCP server that sends ``reply`` and what it received, then closes."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(reply + b":" + conn.recv(1024))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(5)


@contextlib.contextmanager
def udp_backend(reply: bytes) -> Iterator[tuple[str, int]]:
    """A UDP server that answers every datagram with ``reply`` and the datagram."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = server.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            server.sendto(reply + b":" + data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def tcp_ask(port: int, data: bytes) -> bytes:
    """The proxied reply; b"" when the proxy closed the connection (with our data unread,
    that is a reset, or "not connected" when it came before our shutdown)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        try:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            while chunk := conn.recv(1024):
                chunks.append(chunk)
        except TimeoutError:
            raise
        except OSError:
            pass
    return b"".join(chunks)


def udp_ask(sock: socket.socket, port: int, data: bytes) -> bytes:
    sock.sendto(data, ("127.0.0.1", port))
    return sock.recv(1024)


def free_port() -> tuple[str, int]:
    """An address where nothing listens (a backend that refuses)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1", s.getsockname()[1]


def test_tcp_round_robin_skips_a_refusing_backend() -> None:
    with tcp_backend(b"a") as a, tcp_backend(b"b") as b:
        listener = TcpListener("127.0.0.1", 0)
        try:
            port = port_of(listener)
            assert tcp_ask(port, b"x") == b""  # no backends yet: the connection is closed
            listener.backends = [a, free_port(), b]
            replies = [tcp_ask(port, str(i).encode()) for i in range(6)]
        finally:
            listener.close()
    # Round-robin from a, the refusing backend passes its turn on to b.
    assert replies == [b"a:0", b"b:1", b"b:2", b"a:3", b"b:4", b"b:5"]


def test_tcp_peer_filter_refuses_other_clients() -> None:
    with tcp_backend(b"a") as a:
        seen: list[str] = []

        def allow(ip: str) -> bool:
            seen.append(ip)
            return len(seen) > 1

        listener = TcpListener("127.0.0.1", 0, allow)
        listener.backends = [a]
        try:
            assert tcp_ask(port_of(listener), b"1") == b""
            assert tcp_ask(port_of(listener), b"2") == b"a:2"
        finally:
            listener.close()
    assert seen == ["127.0.0.1", "127.0.0.1"]


def test_permit_relays_a_peer_only_to_the_backends_its_policies_admit() -> None:
    with tcp_backend(b"a") as a, tcp_backend(b"b") as b, udp_backend(b"u") as u:
        asked: list[tuple[str, tuple[str, int]]] = []

        def permit(peer: str, backend: tuple[str, int]) -> bool:
            asked.append((peer, backend))
            return backend != a

        listener = TcpListener("127.0.0.1", 0)
        listener.backends, listener.permit = [a, b], permit
        try:
            replies = {tcp_ask(port_of(listener), str(i).encode())[:1] for i in range(4)}
            listener.permit = lambda _peer, _backend: False  # nobody admitted: closed at once
            assert tcp_ask(port_of(listener), b"x") == b""
        finally:
            listener.close()
        udp = UdpListener("127.0.0.1", 0)
        udp.backends, udp.permit = [u], lambda _peer, _backend: True
        admitted, refused = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in "ab")
        refused.settimeout(1.0)  # no answer is the proof: nothing was relayed
        try:
            assert udp_ask(admitted, port_of(udp), b"x") == b"u:x"
            udp.permit = lambda _peer, _backend: False
            with pytest.raises(TimeoutError):
                udp_ask(refused, port_of(udp), b"y")
        finally:
            admitted.close()
            refused.close()
            udp.close()
    assert replies == {b"b"}
    assert ("127.0.0.1", a) in asked and ("127.0.0.1", b) in asked


def test_a_taken_port_raises_and_close_frees_it() -> None:
    listener = TcpListener("127.0.0.1", 0)
    port = port_of(listener)
    with pytest.raises(OSError):
        TcpListener("127.0.0.1", port)
    listener.close()
    TcpListener("127.0.0.1", port).close()  # SO_REUSEADDR: no TIME_WAIT wait


def test_udp_each_client_sticks_to_its_round_robin_backend() -> None:
    with udp_backend(b"a") as a, udp_backend(b"b") as b:
        listener = UdpListener("127.0.0.1", 0, allow=lambda ip: ip == "127.0.0.1")
        listener.backends = [a, b]
        clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
        try:
            port = port_of(listener)
            for c in clients:
                c.settimeout(5)
            first = [udp_ask(c, port, b"1") for c in clients]
            again = [udp_ask(c, port, b"2") for c in clients]
        finally:
            for c in clients:
                c.close()
            listener.close()
    assert first == [b"a:1", b"b:1", b"a:1"]
    assert again == [b"a:2", b"b:2", b"a:2"]


def test_udp_peer_filter_drops_datagrams() -> None:
    with udp_backend(b"a") as a:
        listener = UdpListener("127.0.0.1", 0, allow=lambda ip: False)
        listener.backends = [a]
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.settimeout(0.3)
        try:
            with pytest.raises(TimeoutError):  # dropped: no answer, within any time
                udp_ask(client, port_of(listener), b"1")
        finally:
            client.close()
            listener.close()


def test_tcp_waits_for_a_backend_that_is_restarting() -> None:
    """Every backend refuses for a moment (a pod restarting in place): the client's
    connection waits for the next dial round instead of failing."""
    address = free_port()
    listener = TcpListener("127.0.0.1", 0)
    listener.backends = [address]
    server = socket.create_server(address)
    server.close()  # nothing listens yet: refused

    def come_back() -> None:
        with socket.create_server(address) as again:
            conn, _ = again.accept()
            with conn:
                conn.sendall(b"back:" + conn.recv(1024))
    timer = threading.Timer(0.3, come_back)  # within the first two rounds (0.25 s + 0.5 s)
    timer.start()
    try:
        assert tcp_ask(port_of(listener), b"x") == b"back:x"
    finally:
        timer.join(5)
        listener.close()


def test_tcp_connects_as_soon_as_a_restarting_backend_listens(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A held connection is not left waiting for the next round to start: refused backends
    are tried again every few milliseconds. With one round of 20 s, a wait for the round's
    end would take 20 s; the backend listens again after 0.3 s."""
    monkeypatch.setattr(tcpproxy, "DIAL_TIMEOUTS", (20.0,))
    address = free_port()
    listener = TcpListener("127.0.0.1", 0)
    listener.backends = [address]
    answered = threading.Event()

    def come_back() -> None:
        with socket.create_server(address) as again:
            conn, _ = again.accept()
            with conn:
                conn.sendall(b"back:" + conn.recv(1024))
    timer = threading.Timer(0.3, come_back)
    timer.start()
    try:
        asking = threading.Thread(target=lambda: tcp_ask(port_of(listener), b"x") == b"back:x"
                                  and answered.set(), daemon=True)
        asking.start()
        assert answered.wait(10), "the held connection waited for the round to end"
    finally:
        timer.join(5)
        listener.close()


def test_tcp_gives_up_when_no_backend_listens_within_the_rounds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcpproxy, "DIAL_TIMEOUTS", (0.05, 0.1))
    listener = TcpListener("127.0.0.1", 0)
    listener.backends = [free_port()]
    try:
        assert tcp_ask(port_of(listener), b"x") == b""   # closed: nothing to relay to
    finally:
        listener.close()
