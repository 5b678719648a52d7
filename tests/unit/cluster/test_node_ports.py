"""Node ports on a machine that several built-in clusters share (their API servers know
nothing of each other, but all listen at 127.0.0.1): the allocator skips ports held on the
host, a port given by hand that another cluster holds is an event, and the API server
checks node ports as kube-apiserver does."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netkit import accepts

from kompy.client import KubeClient
from kompy.client.errors import Invalid
from kompy.cluster.proxy import nodeports

from .conftest import FakeCluster, FakeNode


def test_allocation_takes_the_upper_band_first_and_skips_used_and_held_ports() -> None:
    band = nodeports.static_band_size()
    assert band == 86  # min(max(16, 2768/32), 128), KEP-3668
    held = set(range(30000 + band, 32768)) - {31000}
    port = nodeports.allocate({30500}, free=lambda p, _proto: p not in held,
                              rng=random.Random(1))
    assert port == 31000
    # The upper band all taken (by this cluster or the host): the lower band.
    lower = nodeports.allocate(range(30000 + band, 31500),
                               free=lambda p, _proto: p < 30000 + band, rng=random.Random(1))
    assert 30000 <= lower < 30000 + band


def test_a_full_range_is_invalid_not_an_internal_error() -> None:
    with pytest.raises(Invalid, match="failed to allocate a nodePort: range is full"):
        nodeports.allocate([], free=lambda _p, _proto: False)


def test_a_probe_sees_a_listener() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not nodeports.free_on_host(port)
    assert nodeports.free_on_host(port)


def _free_block(size: int) -> range:
    """``size`` consecutive ports nothing on this host holds (TCP)."""
    for base in range(42000, 60000, size):
        block = range(base, base + size)
        if all(nodeports.free_on_host(p) for p in block):
            return block
    pytest.skip("no free block of ports on this host")


@pytest.fixture
def two_clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[tuple[FakeCluster, FakeCluster, range]]:
    """Two clusters in this process, as two daemons on one machine, with a node port range
    of 17 ports: 16 for the lower band, so one port is all the upper band has."""
    block = _free_block(17)
    monkeypatch.setattr(nodeports, "NODE_PORTS", block)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    nodes = [FakeNode(tmp_path / name) for name in ("a", "b")]
    try:
        yield nodes[0].start(), nodes[1].start(), block
    finally:
        for node in nodes:
            node.close()


def _service(name: str, node_port: int | None = None) -> dict[str, Any]:
    port: dict[str, Any] = {"port": 80, "targetPort": 80}
    if node_port:
        port["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [port]}}


def _node_port(client: KubeClient, name: str) -> int:
    return int(client.get("services", name, "default")["spec"]["ports"][0]["nodePort"])


def _events(client: KubeClient, name: str, reason: str) -> list[dict[str, Any]]:
    items = client.list("events", "default")["items"]
    return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


def test_a_second_cluster_does_not_take_a_port_the_first_one_holds(
        two_clusters: tuple[FakeCluster, FakeCluster, range]) -> None:
    a, b, block = two_clusters
    a.client.apply(_service("web"))
    assert _node_port(a.client, "web") == block[-1]  # the upper band's one port
    a.wait("cluster a listening on its node port",
           lambda: _events(a.client, "web", "Listening") and accepts(block[-1]))
    # Cluster b knows nothing of a's Service; its allocator sees the port held.
    b.client.apply(_service("web"))
    port = _node_port(b.client, "web")
    assert port != block[-1] and port in block
    b.wait("cluster b listening on its own node port",
           lambda: _events(b.client, "web", "Listening") and accepts(port))
    # (The fake engine's cluster IPs are no host addresses: only 127.0.0.1 counts here.)
    assert not [e for e in _events(b.client, "web", "FailedToListen")
                if "127.0.0.1:" in e["message"]]


def test_a_node_port_held_by_another_cluster_is_an_event_naming_it(
        two_clusters: tuple[FakeCluster, FakeCluster, range]) -> None:
    a, b, block = two_clusters
    a.client.apply(_service("web"))
    held = _node_port(a.client, "web")
    a.wait("cluster a listening", lambda: accepts(held))
    # Given by hand, as kube-apiserver accepts it: the node cannot serve it.
    b.client.apply(_service("api", held))
    found = b.wait("a FailedToListen event in cluster b", lambda: [
        e for e in _events(b.client, "api", "FailedToListen") if "127.0.0.1:" in e["message"]])
    assert found[0]["type"] == "Warning"
    assert f"cannot listen on 127.0.0.1:{held}/tcp" in found[0]["message"]
    assert "another program" in found[0]["message"]


def test_the_api_server_refuses_a_node_port_in_use_or_out_of_range(
        two_clusters: tuple[FakeCluster, FakeCluster, range]) -> None:
    a, _, block = two_clusters
    a.client.apply(_service("web", block[3]))
    with pytest.raises(Invalid) as taken:
        a.client.apply(_service("api", block[3]))
    assert str(taken.value.message) == (
        f'Service "api" is invalid: spec.ports[0].nodePort: Invalid value: {block[3]}: '
        "provided port is already allocated")
    with pytest.raises(Invalid) as outside:
        a.client.apply(_service("db", 80))
    assert "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid " \
        f"range. The range of valid ports is {block[0]}-{block[-1]}" in str(outside.value.message)
    # The Service keeps its own port when applied again.
    a.client.apply(_service("web", block[3]))
