"""The HPA's metrics: each ``spec.metrics`` entry to a replica proposal and its status.

Resource metrics (``Resource``, ``ContainerResource``) come from ``metrics.k8s.io`` as
upstream's REST metrics client reads them: one list of PodMetrics by the target's selector,
each pod's value the sum of its containers' (or one container's) usage. The built-in cluster
serves no custom or external metrics API, so ``Pods``, ``Object`` and ``External`` metrics
fail as they do on a cluster without one (the HPA says so in its ScalingActive condition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kompy.client import KubeClient
from kompy.client.errors import ApiError
from kompy.client.objects import Obj, meta, parse_time
from kompy.client.quantity import milli_value
from kompy.cluster.controllers.hpa_replicas import (
    MetricError,
    PodMetric,
    PodState,
    Proposal,
    average_value_replicas,
    utilization_replicas,
)
from kompy.errors import KompyError

METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods"
CUSTOM_API = {"Pods": "custom.metrics.k8s.io", "Object": "custom.metrics.k8s.io",
              "External": "external.metrics.k8s.io"}


def quantity(resource: str, value: int) -> str:
    """A milli-unit value as a quantity: ``250m`` of CPU, whole bytes of memory."""
    if resource != "cpu" and value % 1000 == 0:
        return str(value // 1000)
    return f"{value}m"


def _seconds(duration: Any) -> float:
    try:
        return float(str(duration).removesuffix("s"))
    except ValueError:
        return 0.0


def pod_metrics(client: KubeClient, namespace: str, selector: str, resource: str,
                container: str | None) -> dict[str, PodMetric]:
    """Pod name -> its usage of ``resource``; MetricError when the API gives none."""
    try:
        items = client.request("GET", METRICS_PATH.format(namespace),
                               params={"labelSelector": selector}).json().get("items") or []
    except (ApiError, KompyError) as error:
        raise MetricError(f"unable to get metrics for resource {resource}: unable to fetch "
                          f"metrics from resource metrics API: {error}") from error
    if not items:
        raise MetricError(f"unable to get metrics for resource {resource}: no metrics "
                          "returned from resource metrics API")
    found: dict[str, PodMetric] = {}
    for item in items:
        containers = [c for c in item.get("containers") or []
                      if container is None or c.get("name") == container]
        if not containers:
            continue
        try:
            value = sum(milli_value((c.get("usage") or {})[resource]) for c in containers)
        except (KeyError, ValueError):
            continue   # metrics-server skips a pod missing the resource too
        found[str(meta(item).get("name"))] = PodMetric(
            value, parse_time(item.get("timestamp")) or 0.0, _seconds(item.get("window")))
    return found


def pod_state(pod: Obj, resource: str, container: str | None) -> PodState:
    status = pod.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    request, missing = 0, ""
    for c in (pod.get("spec") or {}).get("containers") or []:
        if container is not None and c.get("name") != container:
            continue
        res = c.get("resources") or {}
        # The API server defaults requests to limits; a pod written elsewhere may rely on it.
        given = (res.get("requests") or {}).get(resource, (res.get("limits") or {}).get(
            resource))
        if given is None:
            missing = missing or str(c.get("name"))
            continue
        request += milli_value(given)
    return PodState(
        name=str(meta(pod).get("name")), phase=str(status.get("phase") or "Pending"),
        deleting=bool(meta(pod).get("deletionTimestamp")),
        ready=None if ready is None else ready.get("status") == "True",
        ready_since=parse_time((ready or {}).get("lastTransitionTime")),
        started=parse_time(status.get("startTime")),
        request=None if missing else request, missing_request=missing)


@dataclass(frozen=True)
class Outcome:
    """One metric's proposal (or failure) and what the HPA's status says of it."""

    replicas: int | None
    name: str                   # "cpu resource utilization (percentage of request)"
    status: Obj                 # a status.currentMetrics entry
    error: str = ""             # why no proposal
    reason: str = ""            # the ScalingActive reason for that error


def compute(client: KubeClient, namespace: str, selector: str, pods: list[Obj],
            spec: Obj, current: int, now: float) -> Outcome:
    kind = str(spec.get("type") or "")
    if kind in CUSTOM_API:
        api = CUSTOM_API[kind]
        return Outcome(None, "", {"type": ""},
                       f"unable to get metric: no {api} API is served by kompy's cluster",
                       f"FailedGet{kind}Metric")
    if kind not in ("Resource", "ContainerResource"):
        return Outcome(None, "", {"type": ""}, f"unknown metric source type \"{kind}\"",
                       "InvalidMetricSourceType")
    source = spec.get("resource" if kind == "Resource" else "containerResource") or {}
    resource = str(source.get("name") or "")
    container = str(source.get("container")) if kind == "ContainerResource" else None
    target = source.get("target") or {}
    utilization = target.get("type") == "Utilization"
    key = "resource" if kind == "Resource" else "containerResource"
    what = f"{resource} {'utilization' if utilization else 'usage'}"
    failed_reason = f"FailedGet{kind}Metric"
    try:
        metrics = pod_metrics(client, namespace, selector, resource, container)
        states = [pod_state(p, resource, container) for p in pods]
        proposal: Proposal
        if utilization:
            proposal = utilization_replicas(current, int(target.get("averageUtilization") or 0),
                                            states, metrics, resource, now)
        else:
            proposal = average_value_replicas(current, milli_value(target.get(
                "averageValue", "0")), states, metrics, resource, now)
    except (MetricError, ValueError) as error:
        return Outcome(None, "", {"type": ""}, f"failed to get {what}: {error}", failed_reason)
    current_status: Obj = {"averageValue": quantity(resource, proposal.average)}
    if proposal.utilization is not None:
        current_status["averageUtilization"] = proposal.utilization
    body: Obj = {"name": resource, "current": current_status}
    if container is not None:
        body["container"] = container
    name = (f"{resource} resource utilization (percentage of request)" if utilization
            else f"{resource} resource")
    if container is not None:
        name = f"{resource} container resource" + (" utilization (percentage of request)"
                                                    if utilization else "")
    return Outcome(proposal.replicas, name, {"type": kind, key: body})
