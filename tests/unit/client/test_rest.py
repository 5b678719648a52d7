"""KubeClient against kompy's API server: errors, apply, and watches that survive restarts."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.rest import LAST_APPLIED
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store
from kompy.errors import ClusterError


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_connection_refused_is_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = KubeClient.for_server(f"http://127.0.0.1:{port}", "t")
    with pytest.raises(ClusterError) as info:
        client.list("pods")
    assert str(info.value) == (f"no cluster answers at http://127.0.0.1:{port} (connection "
                               "refused)\n  hint: for kompy's built-in cluster: `kompy cluster "
                               "start`; else check the kubeconfig's server address")


def test_apply_created_configured_unchanged(tmp_path: Path) -> None:
    server = ApiServer(Store(tmp_path / "s.db"), "t").start()
    try:
        client = KubeClient.for_server(server.url, "t")
        assert client.apply_result(cm("a", x="1"))[1] == "created"
        assert client.apply_result(cm("a", x="1"))[1] == "unchanged"
        obj, action = client.apply_result(cm("a", x="2"))
        assert action == "configured" and obj["data"] == {"x": "2"}
        assert LAST_APPLIED in obj["metadata"]["annotations"]
    finally:
        server.stop()


def test_watch_survives_a_server_restart(tmp_path: Path) -> None:
    store_path = tmp_path / "s.db"
    server = ApiServer(Store(store_path), "t").start()
    port = server.port
    client = KubeClient.for_server(server.url, "t")
    client.create(cm("before"))
    rv = client.list("configmaps")["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def consume() -> None:
        for kind, obj in client.watch("configmaps", resource_version=rv):
            seen.append((kind, obj["metadata"]["name"]))
            if len(seen) == 3:
                done.set()
                return
    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    client.create(cm("one"))
    server.stop()
    server.api.store.close()
    # Written while no server runs: the watch must still deliver it after reconnecting.
    offline = Store(store_path)
    offline.create(__import__("kompy.client.resources", fromlist=["lookup"]).lookup("cm"),
                   {**cm("two"), "metadata": {"name": "two", "namespace": "default"}})
    offline.close()
    restarted = ApiServer(Store(store_path), "t", port).start()
    try:
        client.create(cm("three"))
        assert done.wait(15), f"watch saw only {seen}"
        assert seen == [("ADDED", "one"), ("ADDED", "two"), ("ADDED", "three")]
    finally:
        restarted.stop()


class _StallingServer:
    """Accepts connections and, per ``head``, sends a watch answer's head (then nothing) or
    nothing at all; keeps every connection open, as a stalled server or a half-open
    connection does."""

    def __init__(self, head: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.head = head
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.head:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("head", [True, False], ids=["stalls-mid-stream", "never-answers"])
def test_bounded_watch_ends_when_the_server_stalls(monkeypatch: pytest.MonkeyPatch,
                                                   head: bool) -> None:
    # A server that does not end a watch by its timeoutSeconds must not hold the caller
    # (kompy down's pod wait) for the hour an unbounded watch allows between bytes.
    from kompy.client import rest

    monkeypatch.setattr(rest, "WATCH_GRACE_SECONDS", 0.5)
    server = _StallingServer(head)
    try:
        client = KubeClient.for_server(server.url, "t")
        seen: list[Any] = []
        # In a thread, so that a watch that never ends fails this test instead of hanging it.
        watching = threading.Thread(target=lambda: seen.extend(
            client.watch("pods", "default", timeout_seconds=1)), daemon=True)
        watching.start()
        watching.join(10)
        assert not watching.is_alive(), "the watch outlived its timeout by 9 s"
        assert seen == []
    finally:
        server.close()


def test_unbounded_watch_idle_allowance_is_long() -> None:
    from kompy.client import rest

    assert rest._watch_idle(None) == rest.UNBOUNDED_WATCH_IDLE_SECONDS
    assert rest._watch_idle(5) == 5 + rest.WATCH_GRACE_SECONDS
