"""Two built-in clusters on one machine, on the real engine: each has its own API server,
but both listen at 127.0.0.1, so a node port the first one serves is one the second must not
hand out, and one given to the second by hand is an event there, not a silent misroute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clusterkit import docker_ok, own_cluster, wait_for
from netkit import accepts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second cluster, of another KOMPY_HOME, beside the session's one."""
    if not docker_ok():
        pytest.skip("no Docker engine")
    with own_cluster(tmp_path_factory.mktemp("kompy-second"), "s") as found:
        yield found


def _service(name: str, namespace: str, node_port: int | None = None) -> dict[str, Any]:
    port: dict[str, Any] = {"port": 80, "targetPort": 80}
    if node_port:
        port["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [port]}}


def _node_port(client: Any, name: str, namespace: str) -> int:
    return int(client.get("services", name, namespace)["spec"]["ports"][0]["nodePort"])


def test_a_second_cluster_neither_takes_nor_silently_shares_a_node_port(
        client: Any, namespace: str, second: Any) -> None:
    client.apply(_service("web", namespace))
    held = _node_port(client, "web", namespace)
    wait_for("the first cluster listening on its node port", lambda: accepts(held), 60)

    second.apply(_service("web", "default"))
    assert _node_port(second, "web", "default") != held

    # Given by hand, as kube-apiserver accepts it: the second cluster says it cannot serve it.
    second.apply(_service("api", "default", held))
    found = wait_for("a FailedToListen event in the second cluster", lambda: [
        e for e in second.list("events", "default")["items"]
        if e["involvedObject"]["name"] == "api" and e["reason"] == "FailedToListen"
        and f"127.0.0.1:{held}/tcp" in e["message"]], 60)
    assert found[0]["type"] == "Warning"
    assert "It, not this Service, answers there" in found[0]["message"]
