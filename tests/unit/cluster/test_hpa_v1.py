"""autoscaling/v1 HPAs served by conversion from the stored v2 (kubectl autoscale of 1.27)."""

from __future__ import annotations

from typing import Any

from kompy.cluster.apiserver import hpav1

V1_PATH = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"

V2: dict[str, Any] = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "minReplicas": 1, "maxReplicas": 5,
             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                 "type": "Utilization", "averageUtilization": 60}}},
                 {"type": "Resource", "resource": {"name": "memory", "target": {
                     "type": "AverageValue", "averageValue": "100Mi"}}}],
             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}}},
    "status": {"currentReplicas": 2, "desiredReplicas": 2,
               "currentMetrics": [{"type": "Resource", "resource": {
                   "name": "cpu", "current": {"averageUtilization": 42,
                                              "averageValue": "21m"}}}],
               "conditions": [{"type": "AbleToScale", "status": "True"}]}}


def test_v2_to_v1_and_back_loses_nothing() -> None:
    v1 = hpav1.to_v1(V2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60 and "metrics" not in v1["spec"]
    assert v1["status"]["currentCPUUtilizationPercentage"] == 42
    assert set(v1["metadata"]["annotations"]) == {hpav1.METRICS, hpav1.BEHAVIOR,
                                                  hpav1.CONDITIONS, hpav1.CURRENT}
    assert hpav1.to_v2(v1) == V2


def test_a_v1_body_without_a_target_gets_the_default(fake_node: Any) -> None:
    cluster = fake_node.start()
    body = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"}, "maxReplicas": 3}}
    created = cluster.client.request("POST", V1_PATH, body=body).json()
    assert created["apiVersion"] == "autoscaling/v1"
    assert created["spec"] == {**body["spec"], "minReplicas": 1,
                               "targetCPUUtilizationPercentage": 80}
    stored = cluster.client.get("horizontalpodautoscalers", "web", "default")
    assert stored["apiVersion"] == "autoscaling/v2" and stored["spec"]["minReplicas"] == 1


def test_patch_list_and_delete_through_v1(fake_node: Any) -> None:
    cluster = fake_node.start()
    cluster.client.create({**V2, "status": {}})
    patched = cluster.client.request(
        "PATCH", f"{V1_PATH}/web", body={"spec": {"targetCPUUtilizationPercentage": 70}},
        content_type="application/merge-patch+json").json()
    assert patched["spec"]["targetCPUUtilizationPercentage"] == 70
    stored = cluster.client.get("horizontalpodautoscalers", "web", "default")
    assert [m["resource"]["name"] for m in stored["spec"]["metrics"]] == ["cpu", "memory"]
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 10
    listed = cluster.client.request("GET", V1_PATH).json()
    assert listed["apiVersion"] == "autoscaling/v1"
    assert [i["apiVersion"] for i in listed["items"]] == ["autoscaling/v1"]
    cluster.client.request("DELETE", f"{V1_PATH}/web")
    assert not cluster.client.list("horizontalpodautoscalers", "default")["items"]


def test_discovery_prefers_v2() -> None:
    from kompy.cluster.apiserver import discovery
    assert discovery.group_versions()["autoscaling"] == ["v2", "v1"]
    assert discovery.resource_list("autoscaling", "v1")["resources"][0]["name"] == \
        "horizontalpodautoscalers"
