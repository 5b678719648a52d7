"""minReadySeconds on the fake backend: a pod counts as available only once Ready for that
long (podutil.IsPodAvailable), for ReplicaSets and Deployments (availableReplicas, the
Available condition), StatefulSets (availableReplicas) and DaemonSets (numberAvailable,
numberUnavailable); the controller comes back by itself when the time has passed (no other
event happens once the pods are Ready). Also the DaemonSet strategy's 422s, as
pkg/apis/apps/validation words them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kompy.client.errors import Invalid

MIN_READY = 3


def template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": "kompy/busybox:1"}]}}


def workload(kind: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}},
                            "template": template("web"), **spec}
    if kind == "StatefulSet":
        body["serviceName"] = "web"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web"}, "spec": body}


def status(cluster: Any, resource: str) -> dict[str, Any]:
    return dict(cluster.client.get(resource, "web", "default").get("status") or {})


def ready_since(cluster: Any) -> float:
    """When the last of the set's pods turned Ready (its condition's time)."""
    from kompy.client.objects import parse_time
    pods = cluster.client.list("pods", "default", label_selector="app=web")["items"]
    times = [parse_time(c.get("lastTransitionTime")) for p in pods
             for c in p["status"]["conditions"] if c["type"] == "Ready"]
    return max(t for t in times if t is not None)


@pytest.mark.parametrize(("kind", "resource", "ready_key", "available_key", "replicas"), [
    ("ReplicaSet", "replicasets", "readyReplicas", "availableReplicas", 2),
    ("Deployment", "deployments", "readyReplicas", "availableReplicas", 2),
    ("StatefulSet", "statefulsets", "readyReplicas", "availableReplicas", 1),
    ("DaemonSet", "daemonsets", "numberReady", "numberAvailable", 1),
])
def test_pods_become_available_min_ready_seconds_after_ready(
        fake_cluster: Any, kind: str, resource: str, ready_key: str, available_key: str,
        replicas: int) -> None:
    spec: dict[str, Any] = {"minReadySeconds": MIN_READY}
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    fake_cluster.client.create(workload(kind, **spec))
    early = fake_cluster.wait("the pods Ready", lambda: (
        (s := status(fake_cluster, resource)).get(ready_key) == replicas and s))
    assert not early.get(available_key), early   # Ready, but not for 3 s yet
    if kind == "DaemonSet":
        assert early["numberUnavailable"] == 1
    if kind == "Deployment":
        available = next(c for c in early["conditions"] if c["type"] == "Available")
        assert available["status"] == "False", available
    since = ready_since(fake_cluster)
    done = fake_cluster.wait("the pods available", lambda: (
        (s := status(fake_cluster, resource)).get(available_key) == replicas and s),
        timeout=MIN_READY + 20)
    # Not before the condition's time + minReadySeconds (the second-precision stamp is
    # at most 1 s before the real transition), and with no event but the timer's.
    assert time.time() >= since + MIN_READY
    if kind == "DaemonSet":
        assert done["numberUnavailable"] == 0
    if kind == "Deployment":
        available = next(c for c in done["conditions"] if c["type"] == "Available")
        assert available["status"] == "True", available


def test_a_deployment_rollout_waits_for_min_ready_seconds(fake_cluster: Any) -> None:
    """maxUnavailable 0, maxSurge 1: the old pod goes only once the new one has been
    Ready for minReadySeconds (the new ReplicaSet's availableReplicas paces it)."""
    fake_cluster.client.create(workload("Deployment", replicas=1, minReadySeconds=MIN_READY,
                                        strategy={"rollingUpdate": {"maxUnavailable": 0,
                                                                    "maxSurge": 1}}))
    fake_cluster.wait("the first pod available", lambda: status(
        fake_cluster, "deployments").get("availableReplicas") == 1, timeout=MIN_READY + 20)
    fake_cluster.client.patch("deployments", "web", "default", {"spec": {"template": {
        "metadata": {"labels": {"app": "web", "v": "2"}}}}})
    fake_cluster.wait("two pods Ready", lambda: status(
        fake_cluster, "deployments").get("readyReplicas") == 2)
    since = ready_since(fake_cluster)
    fake_cluster.wait("the old pod gone", lambda: len(fake_cluster.client.list(
        "pods", "default", label_selector="app=web")["items"]) == 1, timeout=MIN_READY + 20)
    assert time.time() >= since + MIN_READY


def daemonset(strategy: dict[str, Any]) -> dict[str, Any]:
    return workload("DaemonSet", updateStrategy=strategy)


@pytest.mark.parametrize(("rolling", "message"), [
    ({"maxSurge": 1},   # maxUnavailable defaults to 1
     'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, '
     'IntVal:1, StrVal:""}: may not be set when maxUnavailable is non-zero'),
    ({"maxSurge": "50%", "maxUnavailable": "10%"},
     'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, '
     'IntVal:0, StrVal:"50%"}: may not be set when maxUnavailable is non-zero'),
    ({"maxSurge": 0, "maxUnavailable": 0},
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
     "maxSurge is 0"),
    ({"maxSurge": "0%", "maxUnavailable": "0%"},
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
     "maxSurge is 0"),
    ({"maxUnavailable": -1},
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater "
     "than or equal to 0"),
    ({"maxUnavailable": "150%"},
     'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: '
     'intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%'),
    ({"maxUnavailable": "half"},   # not a percentage, and its value (0) leaves neither set
     '[spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: '
     'intstr.IntOrString{Type:1, IntVal:0, StrVal:"half"}: a valid percent string must be a '
     "numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
     "validation is '[0-9]+%'), spec.updateStrategy.rollingUpdate.maxUnavailable: Required "
     "value: cannot be 0 when maxSurge is 0]"),
])
def test_bad_daemonset_strategies_are_422s(fake_cluster: Any, rolling: dict[str, Any],
                                           message: str) -> None:
    with pytest.raises(Invalid) as caught:
        fake_cluster.client.create(daemonset({"type": "RollingUpdate",
                                              "rollingUpdate": rolling}))
    assert caught.value.status == 422
    assert caught.value.message == f'DaemonSet.apps "web" is invalid: {message}'


def test_good_daemonset_strategies_are_accepted(fake_cluster: Any) -> None:
    fake_cluster.client.create(daemonset({"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": "25%", "maxUnavailable": 0}}))
    fake_cluster.client.delete("daemonsets", "web", "default")
    fake_cluster.client.create(daemonset({"type": "OnDelete"}))
    # An update is validated too: surge with the unavailability left at 1.
    with pytest.raises(Invalid):
        fake_cluster.client.patch("daemonsets", "web", "default", {"spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}})


def test_negative_min_ready_seconds_is_a_422(fake_cluster: Any) -> None:
    with pytest.raises(Invalid) as caught:
        fake_cluster.client.create(workload("Deployment", minReadySeconds=-1))
    assert caught.value.message == ('Deployment.apps "web" is invalid: spec.minReadySeconds: '
                                    "Invalid value: -1: must be greater than or equal to 0")


def test_an_unknown_daemonset_strategy_is_a_422(fake_cluster: Any) -> None:
    with pytest.raises(Invalid) as caught:
        fake_cluster.client.create(daemonset({"type": "Rolling"}))
    assert caught.value.message == (
        'DaemonSet.apps "web" is invalid: spec.updateStrategy: Unsupported value: '
        'apps.DaemonSetUpdateStrategy{Type:"Rolling", RollingUpdate:'
        '(*apps.RollingUpdateDaemonSet)(nil)}: supported values: "RollingUpdate", "OnDelete"')


def test_an_ordered_statefulset_makes_the_next_pod_once_the_previous_is_available(
        fake_cluster: Any) -> None:
    fake_cluster.client.create(workload("StatefulSet", replicas=2, minReadySeconds=MIN_READY))
    fake_cluster.wait("web-0 Ready", lambda: fake_cluster.ready("web-0"))
    since = ready_since(fake_cluster)
    fake_cluster.wait("web-1 made", lambda: fake_cluster.pod("web-1"), timeout=MIN_READY + 20)
    assert time.time() >= since + MIN_READY   # isRunningAndAvailable, not only Ready


@pytest.mark.parametrize(("strategy", "message"), [
    ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
     'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, '
     'IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0'),
    ({"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}},
     'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, '
     'IntVal:0, StrVal:"0%"}: may not be 0 when `maxSurge` is 0'),
    ({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
     "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
     "'Recreate'"),
])
def test_bad_deployment_strategies_are_422s(fake_cluster: Any, strategy: dict[str, Any],
                                            message: str) -> None:
    with pytest.raises(Invalid) as caught:
        fake_cluster.client.create(workload("Deployment", strategy=strategy))
    assert caught.value.message == f'Deployment.apps "web" is invalid: {message}'
    fake_cluster.client.create(workload("Deployment", strategy={"rollingUpdate": {
        "maxSurge": 0, "maxUnavailable": 1}}))


def test_a_progress_deadline_within_min_ready_seconds_is_a_422(fake_cluster: Any) -> None:
    with pytest.raises(Invalid) as caught:
        fake_cluster.client.create(workload("Deployment", minReadySeconds=600))
    assert caught.value.message == (   # progressDeadlineSeconds defaults to 600
        'Deployment.apps "web" is invalid: spec.progressDeadlineSeconds: Invalid value: 600: '
        "must be greater than minReadySeconds")
