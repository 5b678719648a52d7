"""The HPA's replica calculator: how many pods a resource metric asks for.

kube-controller-manager's pkg/controller/podautoscaler/replica_calculator.go, read and
written again: the usage ratio is ``current / target``; within the tolerance (0.1) nothing
changes; else ``ceil(ratio * ready pods)``. Pods without metrics and pods not ready are set
aside and, when the ratio is recomputed with them, counted on the side that damps the change
(missing pods at 100% of their request on a scale-down and at 0 on a scale-up, unready pods
at 0 on a scale-up); a recomputation that flips the direction, or lands within the
tolerance, keeps the current count.
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details

Every value is in milli-units (millicores, millibytes), as the upstream calculator uses
``MilliValue()`` for every resource.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kompy.errors import ClusterError

TOLERANCE = 0.1   # --horizontal-pod-autoscaler-tolerance
# --horizontal-pod-autoscaler-cpu-initialization-period and
# --horizontal-pod-autoscaler-initial-readiness-delay
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0


class MetricError(ClusterError):
    """A metric that gives no replica count (no metrics, no requests...)."""


@dataclass(frozen=True)
class PodState:
    """What the calculator needs of one pod the target selects."""

    name: str
    phase: str
    deleting: bool
    ready: bool | None            # the Ready condition; None without one
    ready_since: float | None     # its lastTransitionTime
    started: float | None         # status.startTime
    request: int | None           # the resource's request in milli-units; None: a container
                                  # has none (utilization cannot be computed)
    missing_request: str = ""     # the first container without one, for the error


@dataclass(frozen=True)
class PodMetric:
    value: int                    # milli-units, summed over the pod's containers
    timestamp: float
    window: float


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int | None       # percent of request (Utilization targets)
    average: int                  # milli-units per pod, the raw average


@dataclass
class _Groups:
    ready: int
    unready: set[str]
    missing: set[str]
    ignored: set[str]


def within_tolerance(ratio: float, tolerance: float = TOLERANCE) -> bool:
    return abs(1.0 - ratio) <= tolerance


def group_pods(pods: list[PodState], metrics: dict[str, PodMetric], cpu: bool,
               now: float) -> _Groups:
    """groupPods: ignored (deleting, failed), unready (pending; for CPU, not ready or still
    within its initialization period without a full window since it became ready), missing
    (no metric) and the count of the rest."""
    groups = _Groups(0, set(), set(), set())
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            groups.ignored.add(pod.name)
        elif pod.phase == "Pending":
            groups.unready.add(pod.name)
        elif pod.name not in metrics:
            groups.missing.add(pod.name)
        elif cpu and _cpu_unready(pod, metrics[pod.name], now):
            groups.unready.add(pod.name)
        else:
            groups.ready += 1
    return groups


def _cpu_unready(pod: PodState, metric: PodMetric, now: float) -> bool:
    if pod.ready is None or pod.started is None:
        return True
    since = pod.ready_since or pod.started
    if pod.started + CPU_INITIALIZATION_PERIOD > now:
        # Young pod: its sample must cover a whole window after it became ready.
        return not pod.ready or metric.timestamp < since + metric.window
    # Unready, and never ready since its start: ignore its metric.
    return not pod.ready and pod.started + INITIAL_READINESS_DELAY > since


def utilization_ratio(metrics: dict[str, PodMetric], requests: dict[str, int],
                      target: int) -> tuple[float, int, int]:
    """(ratio to the target utilization, utilization %, raw average) over the pods with
    both a metric and a request."""
    total = requested = entries = 0
    for name, metric in metrics.items():
        if name in requests:
            total += metric.value
            requested += requests[name]
            entries += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = total * 100 // requested
    return utilization / target, utilization, total // entries


def _usage_ratio(metrics: dict[str, PodMetric], target: int) -> tuple[float, int]:
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target, average


def _selected(pods: list[PodState], metrics: dict[str, PodMetric], cpu: bool,
              now: float) -> tuple[_Groups, dict[str, PodMetric]]:
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, cpu, now)
    kept = {name: m for name, m in metrics.items()
            if name not in groups.ignored and name not in groups.unready
            and any(p.name == name for p in pods)}
    if not kept:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, kept


def _settle(current: int, ratio: float, new_ratio: float, counted: int) -> int:
    """The count after the recomputation with missing and unready pods filled in."""
    if within_tolerance(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    proposed = math.ceil(new_ratio * counted)
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current
    return proposed


def _plain(groups: _Groups, ratio: float) -> bool:
    """No pod to fill in: no missing pod, and no unready pod on a scale-up."""
    return not groups.missing and not (groups.unready and ratio > 1.0)


def _direct(current: int, ratio: float, groups: _Groups) -> int:
    return current if within_tolerance(ratio) else math.ceil(ratio * groups.ready)


def _filled(kept: dict[str, PodMetric], groups: _Groups, ratio: float,
            when_down: Callable[[str], int], now: float) -> dict[str, PodMetric]:
    """The metrics with the missing pods filled in (``when_down`` on a scale-down, 0 on a
    scale-up) and, on a scale-up, the unready pods at 0: the values that damp the change."""
    filled = dict(kept)
    for name in groups.missing:
        if ratio < 1.0:
            filled[name] = PodMetric(when_down(name), now, 0.0)
        elif ratio > 1.0:
            filled[name] = PodMetric(0, now, 0.0)
    if groups.unready and ratio > 1.0:
        for name in groups.unready:
            filled[name] = PodMetric(0, now, 0.0)
    return filled


def utilization_replicas(current: int, target: int, pods: list[PodState],
                         metrics: dict[str, PodMetric], resource: str, now: float
                         ) -> Proposal:
    """GetResourceReplicas: a target of ``target`` percent of the pods' requests."""
    groups, kept = _selected(pods, metrics, resource == "cpu", now)
    requests: dict[str, int] = {}
    for pod in pods:
        if pod.request is None:
            raise MetricError(f"missing request for {resource} in container "
                              f"{pod.missing_request} of Pod {pod.name}")
        requests[pod.name] = pod.request
    ratio, utilization, average = utilization_ratio(kept, requests, target)
    if _plain(groups, ratio):
        return Proposal(_direct(current, ratio, groups), utilization, average)
    # On a scale-down a missing pod counts as using its whole request (or the target).
    filled = _filled(kept, groups, ratio, lambda name: requests[name] * max(100, target) // 100,
                     now)
    new_ratio, _, _ = utilization_ratio(filled, requests, target)
    return Proposal(_settle(current, ratio, new_ratio, len(filled)), utilization, average)


def average_value_replicas(current: int, target: int, pods: list[PodState],
                           metrics: dict[str, PodMetric], resource: str, now: float
                           ) -> Proposal:
    """calcPlainMetricReplicas: a target of ``target`` milli-units per pod on average."""
    groups, kept = _selected(pods, metrics, resource == "cpu", now)
    ratio, average = _usage_ratio(kept, target)
    if _plain(groups, ratio):
        return Proposal(_direct(current, ratio, groups), None, average)
    # On a scale-down a missing pod counts as using the target.
    filled = _filled(kept, groups, ratio, lambda _name: target, now)
    new_ratio, _ = _usage_ratio(filled, target)
    return Proposal(_settle(current, ratio, new_ratio, len(filled)), None, average)
