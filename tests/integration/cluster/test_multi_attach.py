"""A ReadWriteOnce volume on two nodes, on the real engine: a cluster of two nodes of its
own; the claim's second user, on the other node, is refused with the attach-detach
controller's Multi-Attach event, and starts once the first is gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clusterkit import container, docker_ok, own_cluster, pod, running, wait_for

from kompy.client import NotFound

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    with own_cluster(tmp_path_factory.mktemp("kompy-attach"), "a", "--nodes", "2") as found:
        yield found


def _user(name: str, node: str) -> dict[str, Any]:
    spec = pod(name, "default", container("c", "sleep 3600", volumeMounts=[
        {"name": "d", "mountPath": "/data"}]), nodeName=node)
    spec["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "one"}}]
    return spec


def test_a_read_write_once_volume_is_refused_on_a_second_node(two_nodes: Any) -> None:
    client = two_nodes
    wait_for("two nodes", lambda: len(client.list("nodes")["items"]) == 2, 90)
    client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "one", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Mi"}}}})
    client.create(_user("first", "kompy"))
    running(client, "first", "default", 120)
    volume = client.get("persistentvolumeclaims", "one", "default")["spec"]["volumeName"]
    client.create(_user("second", "kompy-m02"))

    def refused() -> bool:
        return any(e.get("reason") == "FailedAttachVolume" and e.get("message") ==
                   f'Multi-Attach error for volume "{volume}" Volume is already used by '
                   "pod(s) first" for e in client.list("events", "default")["items"]
                   if e["involvedObject"]["name"] == "second")
    wait_for("the Multi-Attach event", refused, 60)
    assert client.get("pods", "second", "default")["status"].get("phase") == "Pending"
    client.delete("pods", "first", "default")

    def gone() -> bool:
        try:
            client.get("pods", "first", "default")
        except NotFound:
            return True
        return False
    wait_for("the first pod gone", gone, 60)
    running(client, "second", "default", 180)
