"""A HorizontalPodAutoscaler (autoscaling/v2) from ``kompose.hpa.*`` labels or ``x-kompy.hpa``.

Kompose's labels and defaults (https://kompose.io/user-guide/#labels):
``kompose.hpa.replicas.min`` (default 1), ``kompose.hpa.replicas.max`` (default 3; raised to
the minimum when below it), ``kompose.hpa.cpu`` (average CPU utilisation in percent,
default 50) and ``kompose.hpa.memory`` (average memory utilisation in percent, default 70;
"0" turns the metric off). Any one label asks for an autoscaler with the defaults for the
others, as in Kompose.

``x-kompy.hpa: {min, max, cpu, memory, behavior}`` takes the same values, without implied
metrics (cpu 50% when neither metric is given); its ``memory`` may also be a quantity
("512Mi"), which targets an average value instead of a utilisation; ``behavior`` is the
autoscaler's ``spec.behavior`` as Kubernetes spells it (scaleUp / scaleDown rules,
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#configurable-scaling-behavior).

Utilisation is measured against the containers' resource requests, so a warning names a
utilisation metric whose resource some container does not request
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#how-does-a-horizontalpodautoscaler-work).
"""

from __future__ import annotations

import re
from typing import Any

from kompy.convert.context import ConvertContext
from kompy.convert.settings import HpaSettings
from kompy.convert.shared import render, tool_annotations
from kompy.errors import KeyPath
from kompy.model import Service

DEFAULT_MIN = 1
DEFAULT_MAX = 3
DEFAULT_CPU = 50
DEFAULT_MEMORY = 70
_SCALABLE = ("Deployment", "StatefulSet")
_PERCENT = re.compile(r"(\d+)%?")


def build_hpa(ctx: ConvertContext, service: Service,
              workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The autoscaler of ``workload`` (the service's Deployment/StatefulSet), if asked for."""
    hpa = ctx.settings(service).hpa
    if hpa is None:
        return []
    path = ctx.settings(service).sources.get("hpa", ("services", service.name, "labels"))
    kind = workload.get("kind")
    name = workload["metadata"]["name"]
    if kind not in _SCALABLE:
        ctx.dropped(path, f"{service.name} runs as a {kind}, which an autoscaler cannot scale",
                    hint="autoscaling needs a Deployment or a StatefulSet")
        return []
    from_labels = "x-kompy" not in path
    low, high = _replicas(ctx, path, hpa)
    replicas = workload.get("spec", {}).get("replicas")
    if isinstance(replicas, int) and _asked_replicas(ctx, service) and not low <= replicas <= high:
        ctx.warn(path, f"{service.name} asks for {replicas} replicas, but its autoscaler keeps "
                 f"between {low} and {high}", hint="the autoscaler wins once it runs")
    metrics = _metrics(hpa, from_labels)
    _check_requests(ctx, path, workload, metrics, service.name)
    context = {
        "metadata": ctx.metadata(name, ctx.labels(service), tool_annotations(ctx) or None),
        "target": {"apiVersion": workload["apiVersion"], "kind": kind, "name": name},
        "min_replicas": low,
        "max_replicas": high,
        "metrics": metrics,
        "behavior": hpa.behavior,
    }
    ctx.mapped(path, f"HorizontalPodAutoscaler/{name}")
    return render(ctx, "hpa.yaml.j2", context)


def _asked_replicas(ctx: ConvertContext, service: Service) -> bool:
    """Whether the replica count was chosen (deploy.replicas, scale, x-kompy, --replicas)."""
    return ((service.deploy is not None and service.deploy.replicas is not None)
            or service.scale is not None or ctx.settings(service).replicas is not None
            or ctx.options.replicas is not None)


def _replicas(ctx: ConvertContext, path: KeyPath, hpa: HpaSettings) -> tuple[int, int]:
    low = DEFAULT_MIN if hpa.min_replicas is None else hpa.min_replicas
    if low < 1:
        ctx.warn(path, f"an autoscaler's minimum of {low} replicas is raised to 1",
                 hint="scaling to zero needs the HPAScaleToZero feature gate")
        low = 1
    high = DEFAULT_MAX if hpa.max_replicas is None else hpa.max_replicas
    if high < low:
        ctx.warn(path, f"the autoscaler's maximum ({high}) is below its minimum ({low}); "
                 f"using {low}")
        high = low
    return low, high


def _metrics(hpa: HpaSettings, from_labels: bool) -> list[dict[str, Any]]:
    """Resource metrics: cpu utilisation, memory utilisation or average value."""
    cpu = hpa.cpu
    memory = hpa.memory
    if from_labels:
        cpu = DEFAULT_CPU if cpu is None else cpu
        memory = str(DEFAULT_MEMORY) if memory is None else memory
    elif cpu is None and memory is None:
        cpu = DEFAULT_CPU
    metrics: list[dict[str, Any]] = []
    if cpu:
        metrics.append(_resource("cpu", {"type": "Utilization", "averageUtilization": cpu}))
    if memory is not None:
        match = _PERCENT.fullmatch(memory.strip())
        if match is None:
            metrics.append(_resource("memory", {"type": "AverageValue", "averageValue": memory}))
        elif int(match.group(1)) > 0:
            metrics.append(_resource("memory", {"type": "Utilization",
                                                "averageUtilization": int(match.group(1))}))
    return metrics


def _resource(name: str, target: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def _check_requests(ctx: ConvertContext, path: KeyPath, workload: dict[str, Any],
                    metrics: list[dict[str, Any]], service: str) -> None:
    containers = workload.get("spec", {}).get("template", {}).get("spec", {}).get(
        "containers", [])
    for metric in metrics:
        resource = metric["resource"]
        if resource["target"]["type"] != "Utilization":
            continue
        missing = [c.get("name", "?") for c in containers
                   if resource["name"] not in ((c.get("resources") or {}).get("requests") or {})]
        if missing:
            compose_key = "cpus" if resource["name"] == "cpu" else "memory"
            ctx.warn(path, f"the autoscaler of {service} targets {resource['name']} utilisation, "
                     f"but container {', '.join(missing)} requests no {resource['name']}",
                     hint=f"set deploy.resources.reservations.{compose_key}, or the "
                     "autoscaler cannot compute a utilisation")
