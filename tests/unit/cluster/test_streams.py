"""The streaming endpoints (exec, attach, port-forward) of the real API server over HTTP, with
kompy's WebSocket client, and the processes of the in-memory engine's kind (FakeProcess)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from netkit import echo_server

from kompy.client import ApiError, KubeClient, portforward, remotecommand, upgrade, websocket
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.kubelet.fake_process import FakeProcess
from kompy.errors import ClusterError

TOKEN = "test-token"


class StreamingPodIO:
    """Processes played by the test: ``handler`` answers each exec; ``address`` is where a
    port-forward connects."""

    def __init__(self) -> None:
        self.processes: list[FakeProcess] = []
        self.address = "127.0.0.1"
        self.calls: list[tuple[Any, ...]] = []

    def logs(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield b""

    def handler(self, info: Any, command: list[str], process: FakeProcess) -> int | None:
        if command[:1] == ["cat"]:
            for chunk in process.stdin_chunks():
                process.emit(1, chunk)
            return 0
        if command[:1] == ["fail"]:
            process.emit(1, b"to stdout\n")
            process.emit(2, b"to stderr\n")
            return int(command[1])
        if command[:1] == ["size"]:
            deadline = time.monotonic() + 30
            while not process.resizes and time.monotonic() < deadline:
                time.sleep(0.01)
            process.emit(1, json.dumps(process.resizes).encode())
            return 0
        if command[:1] == ["boom"]:
            raise RuntimeError("the engine fell over")
        return 0

    def exec_streams(self, namespace: str, pod: str, container: str | None,
                     command: list[str], *, stdin: bool, tty: bool) -> FakeProcess:
        self.calls.append(("exec", pod, container, command, stdin, tty))
        process = FakeProcess(command, stdin, tty)
        self.processes.append(process)
        return process.start(self.handler)

    def attach(self, namespace: str, pod: str, container: str | None, *, stdin: bool,
               tty: bool) -> FakeProcess:
        self.calls.append(("attach", pod, container, stdin, tty))

        def main(info: Any, command: list[str], process: FakeProcess) -> None:
            process.emit(1, b"main says hi\n")
            for chunk in process.stdin_chunks():
                process.emit(1, chunk.upper())
        process = FakeProcess([], stdin, tty)
        self.processes.append(process)
        return process.start(main)

    def pod_address(self, namespace: str, pod: str) -> str:
        return self.address


@pytest.fixture
def io(server: ApiServer) -> StreamingPodIO:
    pod_io = StreamingPodIO()
    server.set_pod_io(pod_io)
    return pod_io


@pytest.fixture
def client(server: ApiServer, io: StreamingPodIO) -> KubeClient:
    client = KubeClient.for_server(server.url, TOKEN)
    client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
                   "spec": {"containers": [{"name": "c", "image": "busybox:1"},
                                           {"name": "side", "image": "busybox:1"}]}})
    return client


def output_of(process: remotecommand.RemoteProcess) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    while (item := process.read(10)) is not None:
        (out if item[0] == remotecommand.STDOUT else err).extend(item[1])
    return bytes(out), bytes(err)


def test_exit_codes_and_separate_streams(client: KubeClient, io: StreamingPodIO) -> None:
    process = remotecommand.open_exec(client, "a", "default", ["fail", "3"])
    assert process.ws.subprotocol == "v5.channel.k8s.io"
    assert output_of(process) == (b"to stdout\n", b"to stderr\n")
    assert process.wait() == 3
    assert client.exec("a", None, ["fail", "0"]) == (0, b"to stdout\nto stderr\n")
    assert io.calls[0] == ("exec", "a", "c", ["fail", "3"], False, False)


def test_standard_input_ends_with_the_v5_close_signal(client: KubeClient) -> None:
    process = remotecommand.open_exec(client, "a", "default", ["cat"], stdin=True)
    process.write(b"one ")
    process.write(b"two" * 100_000)
    process.close_stdin()          # cat ends only when its input does
    out, _ = output_of(process)
    assert out == b"one " + b"two" * 100_000
    assert process.wait() == 0


def test_v4_reports_the_exit_code_as_a_status(client: KubeClient, server: ApiServer) -> None:
    ws = upgrade.open_websocket(client, "/api/v1/namespaces/default/pods/a/exec",
                                [("command", "fail"), ("command", "7"), ("stdout", "true")],
                                ["v4.channel.k8s.io"])
    assert ws.subprotocol == "v4.channel.k8s.io"
    messages = []
    while (message := ws.receive(10)) is not None:
        messages.append(message)
    assert messages[0] == b"\x01"    # "the lowest writable channel tells it is open"
    assert b"\x01to stdout\n" in messages
    assert b"\x02to stderr\n" not in messages      # stderr was not asked for
    status = json.loads(messages[-1][1:])
    assert messages[-1][0] == 3
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


def test_the_oldest_channel_protocol_reports_errors_as_text(client: KubeClient) -> None:
    ws = upgrade.open_websocket(client, "/api/v1/namespaces/default/pods/a/exec",
                                [("command", "fail"), ("command", "2"), ("stdout", "true")],
                                ["channel.k8s.io"])
    messages = []
    while (message := ws.receive(10)) is not None:
        messages.append(message)
    assert messages[-1].startswith(b"\x03command terminated with non-zero exit code")


def test_a_terminal_gets_the_client_size(client: KubeClient) -> None:
    process = remotecommand.open_exec(client, "a", "default", ["size"], tty=True)
    process.resize(120, 40)
    out, err = output_of(process)
    assert json.loads(out) == [[120, 40]] and err == b""
    assert process.wait() == 0


def test_an_engine_failure_is_an_internal_error_status(client: KubeClient) -> None:
    process = remotecommand.open_exec(client, "a", "default", ["boom"])
    with pytest.raises(ApiError, match="the engine fell over") as info:
        process.wait()
    assert info.value.status == 500


def test_attach_carries_the_main_process(client: KubeClient, io: StreamingPodIO) -> None:
    process = remotecommand.open_attach(client, "a", "default", container="side", stdin=True)
    assert process.read(10) == (1, b"main says hi\n")
    process.write(b"hello")
    assert process.read(10) == (1, b"HELLO")
    process.close_stdin()
    assert process.wait() == 0
    assert io.calls == [("attach", "a", "side", True, False)]


@pytest.mark.parametrize(("params", "status", "message"), [
    ([("command", "true"), ("stdout", "true"), ("container", "nope")], 400, "not valid"),
    ([("command", "true")], 400, "at least 1 of stdin, stdout, stderr"),
])
def test_bad_requests_are_refused_before_the_upgrade(client: KubeClient, params: Any,
                                                     status: int, message: str) -> None:
    with pytest.raises(ApiError, match=message) as info:
        upgrade.open_websocket(client, "/api/v1/namespaces/default/pods/a/exec", params,
                               ["v5.channel.k8s.io"])
    assert info.value.status == status


def test_missing_pods_tokens_and_plain_requests(client: KubeClient, server: ApiServer) -> None:
    with pytest.raises(ApiError) as info:
        remotecommand.open_exec(client, "nope", "default", ["true"])
    assert info.value.status == 404
    with pytest.raises(ApiError) as info:
        remotecommand.open_exec(KubeClient.for_server(server.url, "wrong"), "a", "default",
                                ["true"])
    assert info.value.status == 401
    answer = requests.post(f"{server.url}/api/v1/namespaces/default/pods/a/exec?command=true",
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 400 and "Upgrade request required" in answer.text


def test_port_forward_over_websocket_channels(client: KubeClient) -> None:
    upstream, port = echo_server()
    try:
        conns = [portforward.dial(client, "a", "default", port) for _ in range(2)]
        for i, conn in enumerate(conns):
            conn.send(b"hello %d" % i)
        for i, conn in enumerate(conns):
            assert conn.recv() == b"HELLO %d" % i
            conn.close()
    finally:
        upstream.close()


def test_port_forward_reports_a_closed_port(client: KubeClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    conn = portforward.dial(client, "a", "default", closed)
    with pytest.raises(portforward.PortForwardError, match="connection refused|Connection"):
        conn.recv()


def test_websocket_messages_pings_and_close(tmp_path: Path) -> None:
    """The adapter on its own: a server and a client end on a local socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[websocket.WebSocket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += conn.recv(1)
        accepted.append(websocket.accept(conn, head, ["two", "one"]))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/x"
    ws = websocket.connect(url, headers={}, subprotocols=["one", "two"])
    thread.join(5)
    peer = accepted[0]
    assert ws.subprotocol == peer.subprotocol == "one"   # the client's order decides
    big = bytes(range(256)) * 20_000                      # several frames, above the high water
    sender = threading.Thread(target=lambda: [ws.send(big) for _ in range(3)], daemon=True)
    sender.start()
    for _ in range(3):
        assert peer.receive(10) == big
    sender.join(10)
    peer.send(b"bye")
    assert ws.receive(10) == b"bye"
    peer.close()
    assert ws.receive(10) is None and ws.closed
    assert ws.close_code == 1000
    assert peer.wait_closed(10) and ws.wait_closed(10)
    listener.close()


def test_a_refused_handshake_carries_the_servers_status(server: ApiServer) -> None:
    with pytest.raises(websocket.UpgradeRefused) as info:
        websocket.connect(f"{server.url}/api/v1/namespaces/default/pods/a/exec",
                          headers={}, subprotocols=["v5.channel.k8s.io"])
    assert info.value.status == 401
    assert json.loads(info.value.body)["kind"] == "Status"


def test_frames_in_the_same_packet_as_the_handshake_answer_are_not_lost() -> None:
    """A fast server's 101, first message and close frame can reach the client in one read."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        ws = WSConnection(ConnectionType.SERVER)
        while not any(isinstance(e, Request) for e in ws.events()):
            ws.receive_data(conn.recv(65536))
        conn.sendall(ws.send(AcceptConnection()) + ws.send(BytesMessage(data=b"hi"))
                     + ws.send(CloseConnection(code=1000)))
        conn.recv(65536)     # the client's close answer
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    ws = websocket.connect(f"http://127.0.0.1:{listener.getsockname()[1]}/", headers={},
                           subprotocols=[])
    assert ws.receive(10) == b"hi"
    assert ws.receive(10) is None and ws.closed
    listener.close()


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), as a corporate proxy in front of an API
    server does; it remembers each CONNECT's head, and refuses without ``password``."""

    def __init__(self, password: str | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.password = password
        self.heads: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(sock,), daemon=True).start()

    def _tunnel(self, sock: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        text = head.decode()
        self.heads.append(text)
        if self.password and self.password not in text:
            sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Content-Length: 0\r\n\r\n")
            sock.close()
            return
        host, _, port = text.split()[1].rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for a, b in ((sock, upstream), (upstream, sock)):
            threading.Thread(target=_relay, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _through(client: KubeClient, proxy_url: str) -> KubeClient:
    proxied = KubeClient(dataclasses.replace(client.conn, proxy_url=proxy_url))
    return proxied


def test_streams_go_through_the_kubeconfigs_proxy_url(client: KubeClient) -> None:
    proxy = ConnectProxy()
    try:
        proxied = _through(client, proxy.url)
        assert proxied.exec("a", None, ["fail", "0"]) == (0, b"to stdout\nto stderr\n")
        upstream, port = echo_server()
        try:
            conn = portforward.dial(proxied, "a", "default", port)
            conn.send(b"through")
            assert conn.recv() == b"THROUGH"
            conn.close()
        finally:
            upstream.close()
    finally:
        proxy.close()
    target = client.server.removeprefix("http://")
    assert len(proxy.heads) == 2
    assert all(head.startswith(f"CONNECT {target} HTTP/1.") for head in proxy.heads), \
        proxy.heads


def test_a_proxy_that_refuses_is_one_clear_error(client: KubeClient) -> None:
    proxy = ConnectProxy(password="s3cret")
    try:
        with pytest.raises(ClusterError, match=r"through the proxy 127\.0\.0\.1:\d+: "
                                               r"Tunnel connection failed: 407"):
            _through(client, proxy.url).exec("a", None, ["fail", "0"])
        # Credentials in the proxy URL are sent as Proxy-Authorization (basic).
        user_url = proxy.url.replace("http://", "http://me:s3cret@")
        with pytest.raises(ClusterError):   # the proxy sees only base64; this one refuses
            _through(client, user_url).exec("a", None, ["fail", "0"])
    finally:
        proxy.close()
    assert "Proxy-Authorization: Basic bWU6czNjcmV0" in proxy.heads[-1]


def test_environment_proxies_apply_to_streams_but_never_to_loopback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kompy.client.auth import stream_proxy
    from kompy.client.kubeconfig import Connection

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert stream_proxy(Connection("https://k8s.example:6443")) == "http://proxy.example:3128"
    assert stream_proxy(Connection("https://127.0.0.1:6443")) is None
    monkeypatch.setenv("NO_PROXY", "k8s.example")
    assert stream_proxy(Connection("https://k8s.example:6443")) is None
    assert stream_proxy(Connection("https://127.0.0.1:6443",
                                   proxy_url="http://p:3128")) == "http://p:3128"
