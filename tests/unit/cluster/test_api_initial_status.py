"""What a created object's status is, as kube-apiserver's PrepareForCreate sets it: a
client's status is dropped, a Pod starts Pending with its QoS class, a Namespace Active,
and a Node keeps the status its kubelet registers it with."""

from __future__ import annotations

import pytest

from kompy.client import KubeClient
from kompy.cluster.apiserver.server import ApiServer

TOKEN = "initial-status-token"


@pytest.fixture
def client(server: ApiServer) -> KubeClient:
    return KubeClient.for_server(server.url, TOKEN)


def pod(name: str, resources: dict[str, object] | None = None) -> dict[str, object]:
    container: dict[str, object] = {"name": "c", "image": "busybox:1.36-musl"}
    if resources is not None:
        container["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container]},
            "status": {"phase": "Running", "podIP": "10.9.9.9", "qosClass": "Guaranteed"}}


def test_a_created_pods_status_is_pending_with_its_qos_class_whatever_was_sent(
        client: KubeClient) -> None:
    created = client.create(pod("p"))
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert client.get("pods", "p", "default")["status"] == created["status"]


def test_limits_alone_make_a_guaranteed_pod(client: KubeClient) -> None:
    # The request defaults to the limit before the class is computed, as upstream orders it.
    created = client.create(pod("g", {"limits": {"cpu": "500m", "memory": "64Mi"}}))
    assert created["status"]["qosClass"] == "Guaranteed"
    burstable = client.create(pod("b", {"requests": {"memory": "64Mi"}}))
    assert burstable["status"]["qosClass"] == "Burstable"


def test_a_created_namespace_is_active_whatever_was_sent(client: KubeClient) -> None:
    created = client.create({"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": "fresh"},
                             "status": {"phase": "Terminating"}})
    assert created["status"] == {"phase": "Active"}


def test_other_kinds_drop_the_status_they_were_sent(client: KubeClient) -> None:
    created = client.create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36-musl"}]}}},
        "status": {"replicas": 7, "readyReplicas": 7}})
    assert not created.get("status")


def test_a_node_is_registered_with_its_status(client: KubeClient) -> None:
    status = {"capacity": {"cpu": "2", "pods": "110"},
              "conditions": [{"type": "Ready", "status": "True"}]}
    created = client.create({"apiVersion": "v1", "kind": "Node",
                             "metadata": {"name": "n1"}, "status": status})
    assert created["status"] == status
