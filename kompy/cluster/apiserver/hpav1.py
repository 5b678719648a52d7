"""``autoscaling/v1`` HorizontalPodAutoscalers, served by conversion from the stored v2.

kube-apiserver stores one version and converts: v1 has only
``targetCPUUtilizationPercentage``; what v2 says beyond it (other metrics, behavior, the
status conditions and current metrics) rides in annotations, so a v1 client that reads and
writes an HPA back loses nothing (pkg/apis/autoscaling/v1/conversion.go). kubectl 1.27 to
1.31's ``kubectl autoscale`` creates v1 HPAs; ``get``/``describe`` read the preferred v2.
https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v1/
"""

from __future__ import annotations

import json
from typing import Any

from kompy.client.objects import Obj, copy_json

GROUP, VERSION, PLURAL, KIND = "autoscaling", "v1", "horizontalpodautoscalers", \
    "HorizontalPodAutoscaler"
V1, V2 = f"{GROUP}/v1", f"{GROUP}/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def v2_path(parts: list[str]) -> str | None:
    """The v2 path of a v1 HPA request path, or None for other paths."""
    if parts[:3] != ["apis", GROUP, VERSION] or len(parts) == 3:
        return None
    rest = parts[3:]
    plural = rest[2] if rest[0] == "namespaces" and len(rest) >= 3 else rest[0]
    if plural != PLURAL:
        return None
    return "/" + "/".join(["apis", GROUP, "v2", *rest])


def _cpu_target(metric: Obj) -> int | None:
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    if metric.get("type") == "Resource" and resource.get("name") == "cpu" \
            and target.get("type") == "Utilization":
        value = target.get("averageUtilization")
        return value if isinstance(value, int) else None
    return None


def to_v1(obj: Obj) -> Obj:
    """A stored v2 HPA as v1."""
    out: Obj = copy_json(obj)
    out["apiVersion"] = V1
    spec, status = out.setdefault("spec", {}), out.setdefault("status", {})
    annotations = dict((out.get("metadata") or {}).get("annotations") or {})
    metrics = spec.pop("metrics", None) or []
    others = [m for m in metrics if _cpu_target(m) is None]
    for metric in metrics:
        if _cpu_target(metric) is not None:
            spec["targetCPUUtilizationPercentage"] = _cpu_target(metric)
    if others:
        annotations[METRICS] = json.dumps(others, separators=(",", ":"))
    if spec.get("behavior"):
        annotations[BEHAVIOR] = json.dumps(spec.pop("behavior"), separators=(",", ":"))
    spec.pop("behavior", None)
    current = [m for m in status.pop("currentMetrics", None) or [] if m.get("type")]
    for metric in current:
        resource = metric.get("resource") or {}
        if resource.get("name") == "cpu" and "averageUtilization" in (resource.get("current")
                                                                     or {}):
            status["currentCPUUtilizationPercentage"] = resource["current"]["averageUtilization"]
    if current:
        annotations[CURRENT] = json.dumps(current, separators=(",", ":"))
    conditions = status.pop("conditions", None)
    if conditions:
        annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    if annotations:
        out.setdefault("metadata", {})["annotations"] = annotations
    return out


def _load(annotations: dict[str, str], key: str) -> Any:
    raw = annotations.pop(key, None)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def to_v2(obj: Any) -> Any:
    """A v1 HPA (a request's body) as v2; anything else is left for the v2 path to refuse."""
    if not isinstance(obj, dict) or obj.get("kind") not in (KIND, None):
        return obj
    out = copy_json(obj)
    out["apiVersion"] = V2
    spec, status = out.get("spec") or {}, out.get("status") or {}
    meta = out.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    metrics = list(_load(annotations, METRICS) or [])
    cpu = spec.pop("targetCPUUtilizationPercentage", None) if isinstance(spec, dict) else None
    if cpu is not None:
        metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": cpu}}})
    if metrics and isinstance(spec, dict):
        spec["metrics"] = metrics
    behavior = _load(annotations, BEHAVIOR)
    if behavior and isinstance(spec, dict):
        spec["behavior"] = behavior
    if isinstance(status, dict):
        status.pop("currentCPUUtilizationPercentage", None)
        current, conditions = _load(annotations, CURRENT), _load(annotations, CONDITIONS)
        if current:
            status["currentMetrics"] = current
        if conditions:
            status["conditions"] = conditions
    if isinstance(meta, dict):
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    return out


def convert_answer(body: Any) -> Any:
    """A v2 answer (an object, a list, a watch event) as v1; Status and Table pass."""
    if not isinstance(body, dict):
        return body
    if body.get("kind") == KIND:
        return to_v1(body)
    if body.get("kind") == f"{KIND}List":
        return {**body, "apiVersion": V1, "items": [to_v1(i) for i in body.get("items") or []]}
    if "type" in body and isinstance(body.get("object"), dict):
        return {**body, "object": convert_answer(body["object"])}
    return body


def resource_entry() -> Obj:
    return {"name": PLURAL, "singularName": "horizontalpodautoscaler", "namespaced": True,
            "kind": KIND, "verbs": VERBS, "shortNames": ["hpa"], "categories": ["all"]}


def resource_list() -> Obj:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": V1,
            "resources": [resource_entry(),
                          {"name": f"{PLURAL}/status", "singularName": "", "namespaced": True,
                           "kind": KIND, "verbs": ["get", "patch", "update"]}]}


def aggregated_resource() -> Obj:
    return {"resource": PLURAL, "responseKind": {"group": GROUP, "version": VERSION,
                                                 "kind": KIND},
            "scope": "Namespaced", "singularResource": "horizontalpodautoscaler",
            "verbs": VERBS, "shortNames": ["hpa"], "categories": ["all"],
            "subresources": [{"subresource": "status", "responseKind": {
                "group": GROUP, "version": VERSION, "kind": KIND},
                "verbs": ["get", "patch", "update"]}]}


# -- requests -----------------------------------------------------------------------------------

class JsonHeaders:
    """A request's headers with the body's Content-Type replaced (a converted body)."""

    def __init__(self, headers: Any, content_type: str = "application/json") -> None:
        self.headers = headers
        self.content_type = content_type

    def get(self, name: str, default: None = None) -> str | None:
        if name.lower() == "content-type":
            return self.content_type
        value: str | None = self.headers.get(name)
        return value


def patched(current_v2: Obj, patch: Any, content_type: str) -> Obj:
    """A JSON, merge or strategic merge patch of v1 applied to the v1 view of the stored
    object; the result as v2, for an update guarded by its resourceVersion."""
    from kompy.cluster.apiserver.patch import json_patch, merge_patch, strategic_merge_patch
    current = to_v1(current_v2)
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json-patch+json":
        result = json_patch(current, patch)
    elif kind == "application/strategic-merge-patch+json":
        result = strategic_merge_patch(current, patch)
    else:
        result = merge_patch(current, patch)
    converted: Obj = to_v2(result)
    converted.setdefault("metadata", {})["resourceVersion"] = \
        (current_v2.get("metadata") or {}).get("resourceVersion")
    return converted


def convert_reply(reply: Any) -> None:
    """The v2 answer (a body, or a watch stream of JSON lines) converted to v1 in place."""
    if reply.stream is not None:
        source = reply.stream

        def lines() -> Any:
            try:
                for chunk in source:
                    yield _convert_line(chunk)
            finally:
                close = getattr(source, "close", None)
                if close:
                    close()
        reply.stream = lines()
    elif reply.body and reply.content_type.startswith("application/json"):
        try:
            body = json.loads(reply.body)
        except ValueError:
            return
        reply.body = json.dumps(convert_answer(body), separators=(",", ":")).encode()


def _convert_line(chunk: bytes) -> bytes:
    try:
        event = json.loads(chunk)
    except ValueError:
        return chunk
    return json.dumps(convert_answer(event), separators=(",", ":")).encode() + b"\n"
