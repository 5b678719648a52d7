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
