"""The HPA controller end to end on the in-memory backend: the real API server, metrics
collector, Deployment controller and kubelet; the test sets the containers' CPU use."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.cluster.kubelet.backend import LABEL_NAMESPACE, LABEL_ROLE


def deployment(name: str, cpu: str | None = "100m") -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": "app", "image": "kompy/busybox:1",
                                         "resources": resources}]}}}}


def hpa(name: str, maximum: int = 4, down_window: int = 1) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicas": 1, "maxReplicas": maximum,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": down_window}}}}


def containers(cluster: Any) -> list[Any]:
    return [c for c in cluster.backend.running(**{LABEL_NAMESPACE: "default"})
            if c.labels.get(LABEL_ROLE) == "app"]


def replicas(cluster: Any, name: str) -> int:
    return int(cluster.client.get("deployments", name, "default")["spec"]["replicas"])


def conditions(cluster: Any, name: str) -> dict[str, tuple[str, str]]:
    status = cluster.client.get("horizontalpodautoscalers", name, "default").get("status", {})
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions") or []}


def events(cluster: Any, reason: str) -> list[str]:
    return [e["message"] for e in cluster.client.list("events", "default")["items"]
            if e.get("reason") == reason]


@pytest.fixture
def hpa_cluster(fake_node: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KOMPY_HPA_SYNC_PERIOD", "0.3")
    return fake_node.start()


def test_scales_up_under_load_and_back_down(hpa_cluster: Any) -> None:
    cluster = hpa_cluster
    cluster.client.create(deployment("web"))
    first = cluster.wait("the first pod", lambda: containers(cluster))[0]
    cluster.backend.load(first.id, millicores=200)
    cluster.client.create(hpa("web"))
    cluster.wait("4 replicas", lambda: replicas(cluster, "web") == 4, timeout=20)
    assert any(m == "New size: 4; reason: cpu resource utilization (percentage of request) "
                    "above target" for m in cluster.wait(
                        "a SuccessfulRescale event", lambda: events(cluster, "SuccessfulRescale")))
    # A later sync may find no metrics yet for the new pods, and write an empty entry (as
    # upstream does for a metric it could not read): wait for the one read.
    status = cluster.wait("the cpu metric in the status", lambda: next((
        st for st in [cluster.client.get("horizontalpodautoscalers", "web", "default")["status"]]
        if ((st.get("currentMetrics") or [{}])[0].get("resource") or {}).get("name") == "cpu"),
        None))
    assert status["desiredReplicas"] == 4 and "lastScaleTime" in status
    assert conditions(cluster, "web")["ScalingActive"] == ("True", "ValidMetricFound")
    cluster.backend.load(first.id, millicores=0)
    cluster.wait("back to 1 replica", lambda: replicas(cluster, "web") == 1, timeout=20)
    # Events are posted in the background (the recorder's queue): wait for this one.
    cluster.wait("the scale-down event", lambda: "New size: 1; reason: All metrics below "
                 "target" in events(cluster, "SuccessfulRescale"))


def test_clamps_to_max_replicas_and_says_so(hpa_cluster: Any) -> None:
    cluster = hpa_cluster
    cluster.client.create(deployment("big"))
    first = cluster.wait("the first pod", lambda: containers(cluster))[0]
    cluster.backend.load(first.id, millicores=900)
    cluster.client.create(hpa("big", maximum=2))
    cluster.wait("2 replicas", lambda: replicas(cluster, "big") == 2, timeout=20)
    cluster.wait("ScalingLimited TooManyReplicas", lambda: conditions(cluster, "big").get(
        "ScalingLimited") == ("True", "TooManyReplicas"), timeout=20)


def test_a_pod_without_a_cpu_request_stops_the_scaling(hpa_cluster: Any) -> None:
    cluster = hpa_cluster
    cluster.client.create(deployment("bare", cpu=None))
    cluster.wait("the pod", lambda: containers(cluster))
    cluster.client.create(hpa("bare"))
    cluster.wait("ScalingActive False", lambda: conditions(cluster, "bare").get(
        "ScalingActive") == ("False", "FailedGetResourceMetric"), timeout=20)
    # (No metrics yet is the first complaint; the missing request follows once there are.)
    cluster.wait("the warning", lambda: any(
        "missing request for cpu in container app" in m
        for m in events(cluster, "FailedGetResourceMetric")), timeout=20)
    assert replicas(cluster, "bare") == 1


def test_a_missing_target_cannot_be_scaled(hpa_cluster: Any) -> None:
    cluster = hpa_cluster
    cluster.client.create(hpa("ghost"))
    cluster.wait("AbleToScale False", lambda: conditions(cluster, "ghost").get(
        "AbleToScale") == ("False", "FailedGetScale"), timeout=20)
