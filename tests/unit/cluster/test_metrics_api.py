"""metrics.k8s.io on the in-memory backend: the collector's rates, the served objects,
discovery, selectors and errors."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client import NotFound
from kompy.client.quantity import Quantity, canonical, int_value, milli_value
from kompy.cluster.kubelet.backend import LABEL_POD

PODS = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "kompy/busybox:1"}]}}


def _get(cluster: Any, path: str, **params: str) -> Any:
    return cluster.client.request("GET", path, params=params or None).json()


def _usage(cluster: Any, name: str) -> dict[str, Any] | None:
    for item in _get(cluster, PODS)["items"]:
        if item["metadata"]["name"] == name:
            return dict(item["containers"][0]["usage"])
    return None


def test_pod_metrics_carry_the_cpu_rate_and_working_set(fake_node: Any) -> None:
    cluster = fake_node.start()
    cluster.client.create(_pod("web", {"app": "web"}))
    container = cluster.wait("the app container", lambda: cluster.running("web", "app"))
    cluster.backend.load(container.id, millicores=250, working_set=64 * 2**20)

    def near_250m() -> dict[str, Any] | None:
        usage = _usage(cluster, "web")
        if usage and abs(milli_value(usage["cpu"]) - 250) <= 25:
            return usage
        return None
    usage = cluster.wait("250m of CPU in PodMetrics", near_250m)
    # Nanocores, canonical as metrics-server's quantities are (250000000n is 250m).
    assert usage["cpu"] == canonical(Quantity.parse(usage["cpu"]).value)
    assert int_value(usage["memory"]) == 64 * 2**20 and usage["memory"] == "64Mi"
    one = _get(cluster, f"{PODS}/web")
    assert one["kind"] == "PodMetrics" and one["metadata"]["labels"] == {"app": "web"}
    assert one["window"].endswith("s") and one["timestamp"].endswith("Z")


def test_selectors_namespaces_and_nodes(fake_node: Any) -> None:
    cluster = fake_node.start()
    cluster.client.create(_pod("a", {"tier": "front"}))
    cluster.client.create(_pod("b", {"tier": "back"}))
    for name in ("a", "b"):
        cluster.wait(f"pod {name} running", lambda n=name: cluster.running(n, "app"))
    cluster.wait("metrics of both pods", lambda: len(_get(cluster, PODS)["items"]) == 2)
    front = _get(cluster, PODS, labelSelector="tier=front")["items"]
    assert [p["metadata"]["name"] for p in front] == ["a"]
    assert len(_get(cluster, "/apis/metrics.k8s.io/v1beta1/pods")["items"]) == 2
    nodes = cluster.wait("NodeMetrics", lambda: _get(
        cluster, "/apis/metrics.k8s.io/v1beta1/nodes")["items"])
    assert nodes[0]["kind"] == "NodeMetrics" and set(nodes[0]["usage"]) == {"cpu", "memory"}
    with pytest.raises(NotFound, match='pods.metrics.k8s.io "nope" not found'):
        cluster.client.request("GET", f"{PODS}/nope")


def test_a_deleted_pod_leaves_the_metrics(fake_node: Any) -> None:
    cluster = fake_node.start()
    cluster.client.create(_pod("gone", {}))
    cluster.wait("its metrics", lambda: _usage(cluster, "gone"))
    cluster.client.delete("pods", "gone", "default", grace_period_seconds=0)
    cluster.wait("no metrics", lambda: _usage(cluster, "gone") is None
                 and not cluster.backend.running(**{LABEL_POD: "gone"}))


def test_discovery_lists_the_group(fake_node: Any) -> None:
    cluster = fake_node.start()
    groups = _get(cluster, "/apis")["groups"]
    assert {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"} in [
        v for g in groups for v in g["versions"]]
    listed = _get(cluster, "/apis/metrics.k8s.io/v1beta1")
    assert {(r["name"], r["kind"], r["namespaced"]) for r in listed["resources"]} == {
        ("pods", "PodMetrics", True), ("nodes", "NodeMetrics", False)}


def test_metrics_are_read_only(fake_node: Any) -> None:
    cluster = fake_node.start()
    with pytest.raises(Exception, match="read-only"):
        cluster.client.request("POST", PODS, body={"kind": "PodMetrics"})
