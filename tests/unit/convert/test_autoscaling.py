"""HorizontalPodAutoscalers from kompose.hpa.* labels and x-kompy.hpa."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.convert.autoscaling import build_hpa
from kompy.convert.context import ConvertContext
from kompy.convert.options import ConvertOptions
from kompy.convert.validate import resolve_version, validate_object
from kompy.errors import ConvertError
from kompy.model import Project, Service


def _ctx(service: Service) -> ConvertContext:
    project = Project(name="shop", working_dir="/p", services={service.name: service})
    return ConvertContext(project, ConvertOptions(with_kompose_annotation=False))


def _workload(kind: str = "Deployment", requests: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [container]}}}}


def _hpa(service: Service, workload: dict[str, Any] | None = None) -> tuple[
        list[dict[str, Any]], ConvertContext]:
    ctx = _ctx(service)
    objects = build_hpa(ctx, service, workload or _workload(requests={"cpu": "1", "memory": "1"}))
    for obj in objects:
        validate_object(obj, resolve_version(None))
    return objects, ctx


def _targets(hpa: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}


def test_no_labels_no_hpa() -> None:
    assert _hpa(Service("web", image="nginx"))[0] == []


def test_labels_with_kompose_defaults() -> None:
    (hpa,), ctx = _hpa(Service("web", image="nginx", labels={"kompose.hpa.replicas.max": "10"}))
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "web"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 10)
    assert _targets(hpa) == {"cpu": {"type": "Utilization", "averageUtilization": 50},
                             "memory": {"type": "Utilization", "averageUtilization": 70}}
    assert ctx.report[0].target == "HorizontalPodAutoscaler/web"


def test_all_labels() -> None:
    (hpa,), _ = _hpa(Service("web", image="nginx", labels={
        "kompose.hpa.replicas.min": "2", "kompose.hpa.replicas.max": "5",
        "kompose.hpa.cpu": "80", "kompose.hpa.memory": "0"}))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert _targets(hpa) == {"cpu": {"type": "Utilization", "averageUtilization": 80}}


def test_max_below_min_is_raised_with_warning() -> None:
    (hpa,), ctx = _hpa(Service("web", image="nginx", labels={
        "kompose.hpa.replicas.min": "4", "kompose.hpa.replicas.max": "2"}))
    assert hpa["spec"]["maxReplicas"] == 4
    assert "below its minimum" in ctx.diagnostics[0].message


def test_x_kompy_memory_quantity_without_implied_cpu() -> None:
    (hpa,), _ = _hpa(Service("web", image="nginx", extensions={
        "x-kompy": {"hpa": {"min": 2, "max": 6, "memory": "512Mi"}}}))
    assert _targets(hpa) == {"memory": {"type": "AverageValue", "averageValue": "512Mi"}}


def test_x_kompy_defaults_to_cpu() -> None:
    (hpa,), _ = _hpa(Service("web", image="nginx", extensions={"x-kompy": {"hpa": {"max": 4}}}))
    assert _targets(hpa) == {"cpu": {"type": "Utilization", "averageUtilization": 50}}


def test_missing_requests_warn() -> None:
    service = Service("web", image="nginx", labels={"kompose.hpa.cpu": "60"})
    _, ctx = _hpa(service, _workload(requests={"memory": "64Mi"}))
    assert [d.message for d in ctx.diagnostics] == [
        "the autoscaler of web targets cpu utilisation, but container web requests no cpu"]


def test_statefulset_is_scaled_daemonset_is_not() -> None:
    service = Service("web", image="nginx", labels={"kompose.hpa.cpu": "60"})
    (hpa,), _ = _hpa(service, _workload("StatefulSet", {"cpu": "1", "memory": "1"}))
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    objects, ctx = _hpa(service, _workload("DaemonSet"))
    assert objects == [] and ctx.report[0].status == "dropped"


def test_replicas_outside_the_range_warn() -> None:
    workload = _workload(requests={"cpu": "1", "memory": "1"})
    workload["spec"]["replicas"] = 5
    _, ctx = _hpa(Service("web", image="nginx", labels={"kompose.hpa.replicas.max": "3"}),
                  workload)
    assert ctx.diagnostics == []  # 5 was not asked for: no warning
    _, ctx = _hpa(Service("web", image="nginx", scale=5,
                          labels={"kompose.hpa.replicas.max": "3"}), workload)
    assert [d.message for d in ctx.diagnostics] == [
        "web asks for 5 replicas, but its autoscaler keeps between 1 and 3"]


BEHAVIOR = {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Min",
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleUp": {"policies": [{"type": "Percent", "value": "100",
                                      "periodSeconds": 15}]}}


def test_x_kompy_behavior_becomes_the_autoscalers_behavior() -> None:
    (hpa,), _ = _hpa(Service("web", image="nginx", extensions={
        "x-kompy": {"hpa": {"max": 4, "behavior": BEHAVIOR}}}))
    assert hpa["spec"]["behavior"] == {
        "scaleDown": BEHAVIOR["scaleDown"],
        "scaleUp": {"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}


def test_no_behavior_leaves_the_defaults_to_the_cluster() -> None:
    (hpa,), _ = _hpa(Service("web", image="nginx", extensions={"x-kompy": {"hpa": {"max": 4}}}))
    assert "behavior" not in hpa["spec"]


def test_a_wrong_behavior_names_its_key_and_the_bound() -> None:
    cases = {
        "scaleSideways": "unknown key 'scaleSideways': use scaleUp or scaleDown",
        "window": "scaleDown.stabilizationWindowSeconds must be between 0 and 3600",
        "policy": "scaleUp.policies[0].type must be one of Pods, Percent",
        "period": "scaleUp.policies[0].periodSeconds must be between 1 and 1800",
        "select": "scaleDown.selectPolicy must be one of Max, Min, Disabled",
    }
    bad = {"scaleSideways": {"scaleSideways": {}},
           "window": {"scaleDown": {"stabilizationWindowSeconds": 7200}},
           "policy": {"scaleUp": {"policies": [{"type": "Pod", "value": 1,
                                                "periodSeconds": 60}]}},
           "period": {"scaleUp": {"policies": [{"type": "Pods", "value": 1,
                                                "periodSeconds": 0}]}},
           "select": {"scaleDown": {"selectPolicy": "Least"}}}
    for case, message in cases.items():
        service = Service("web", image="nginx", extensions={
            "x-kompy": {"hpa": {"behavior": bad[case]}}})
        with pytest.raises(ConvertError) as info:
            _hpa(service)
        assert info.value.key_path == ("services", "web", "x-kompy", "hpa", "behavior"), case
        assert message in info.value.message, (case, info.value.message)
        assert "expected an autoscaling behavior" in info.value.message
