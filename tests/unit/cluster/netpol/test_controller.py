"""The NetworkPolicy controller in the whole in-process cluster (in-memory container backend)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kompy.client import KubeClient
from kompy.client.loopback import attach
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.daemon.runtime import start_runtime
from kompy.cluster.kubelet.fake import FakeBackend
from kompy.cluster.netpol.rules import Chains
from kompy.cluster.store.sqlite import Store

T = TypeVar("T")
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}}
DENY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "default"}, "spec": {"podSelector": {}}}


class Recording:
    prefix = "KOMPY-NP-TEST"

    def __init__(self) -> None:
        self.applied: list[Chains] = []
        self.removed = threading.Event()

    def unavailable(self) -> str | None:
        return None

    def apply(self, chains: Chains) -> None:
        self.applied.append(chains)

    def remove(self) -> None:
        self.removed.set()


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[KubeClient, Recording, Any]]:
    server = ApiServer(Store(tmp_path / "store.db"), "token").start()
    client = attach(KubeClient.for_server(server.url, "token"), server.router)
    backend = FakeBackend(tmp_path / "engine")
    stop = threading.Event()
    firewall = Recording()
    runtime = start_runtime(client, tmp_path / "state", "fake", stop, backend=backend,
                            dns_address=("127.0.0.1", 0), firewall=firewall)
    try:
        yield client, firewall, (stop, runtime)
    finally:
        stop.set()
        runtime.join(5)
        server.stop()
        backend.pool.shutdown(wait=False)


def wait(what: str, probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def test_a_policy_becomes_chains_and_stopping_removes_them(
        recorded: tuple[KubeClient, Recording, Any]) -> None:
    client, firewall, stopping = recorded
    client.create(POD)
    ip = wait("the pod's IP", lambda: client.get("pods", "p", "default")["status"].get(
        "podIP"))
    client.create(DENY)
    chains = wait("chains applied", lambda: next(
        (c for c in firewall.applied if c), None))
    assert chains["KOMPY-NP-TEST-I0"] == ["-j DROP"]
    assert f"-d {ip}/32 -j KOMPY-NP-TEST-I0" in chains["KOMPY-NP-TEST"]
    client.delete("networkpolicies", "deny", "default")
    wait("the chains emptied", lambda: firewall.applied[-1] == {})
    stop, runtime = stopping
    stop.set()
    runtime.join(5)  # as `kompy cluster stop` does
    assert firewall.removed.is_set()


def test_a_host_that_cannot_filter_says_so_on_each_policy(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(DENY)

    def warned() -> list[dict[str, Any]]:
        return [e for e in client.list("events", "default")["items"]
                if e["reason"] == "NetworkPolicyNotEnforced"
                and e["involvedObject"]["name"] == "deny"]
    found = fake_cluster.wait("the warning event", warned)
    assert found[0]["type"] == "Warning"
    assert "only connections through Services are filtered" in found[0]["message"]
