"""The LimitRanger admission plugin: a namespace's LimitRanges fill in and bound the
resources of its pods and claims, as kube-apiserver's plugin/pkg/admission/limitranger.

* On a pod's create, each container (and init container) without a request or a limit gets
  the ``defaultRequest`` / ``default`` of the ``Container`` items, and the pod is annotated
  ``kubernetes.io/limit-ranger: LimitRanger plugin set: cpu, memory request for container
  web; ...``.
* Then ``min``, ``max`` and ``maxLimitRequestRatio`` are checked per ``Container``, per
  ``Pod`` (the sums) and, for a claim's ``requests.storage``, per ``PersistentVolumeClaim``;
  a breach is 403 Forbidden: ``pods "web" is forbidden: maximum cpu usage per Container is
  1, but limit is 2``.

A LimitRange's own defaults are the API's (SetDefaults_LimitRangeItem): a ``max`` without a
``default`` is the default limit, a ``default`` without a ``defaultRequest`` (else ``min``)
is the default request. https://kubernetes.io/docs/concepts/policy/limit-range/
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kompy.client import resources
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.client.quantity import Quantity, or_zero
from kompy.client.resources import Resource
from kompy.cluster.apiserver.quota import forbidden

LIMIT_RANGES = resources.lookup("limitranges")
ANNOTATION = "kubernetes.io/limit-ranger"
Listing = Callable[[Resource, str], list[Obj]]
Values = dict[str, Any]


def limit_range_spec(spec: Obj) -> None:
    """SetDefaults_LimitRangeItem for each ``Container`` item."""
    for item in spec.get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = item.setdefault("default", {})
        request = item.setdefault("defaultRequest", {})
        for key, value in (item.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            request.setdefault(key, value)
        for key, value in (item.get("min") or {}).items():
            request.setdefault(key, value)
        if not default:
            item.pop("default")
        if not request:
            item.pop("defaultRequest")


def admit(res: Resource, obj: Obj, listing: Listing, old: Obj | None = None) -> None:
    """Fill in a new pod's defaults, then check it (or a claim) against every LimitRange of
    its namespace; Forbidden on the first LimitRange it breaks."""
    if res.kind not in ("Pod", "PersistentVolumeClaim") or (res.kind == "Pod" and old):
        return
    if old is not None and (old.get("metadata") or {}).get("deletionTimestamp"):
        return
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    ranges = listing(LIMIT_RANGES, namespace) if namespace else []
    if res.kind == "Pod":
        for limit_range in ranges:
            _default_pod(obj, limit_range)
    for limit_range in ranges:
        problems = _pod_problems(obj, limit_range) if res.kind == "Pod" else \
            _claim_problems(obj, limit_range)
        if problems:
            raise _forbidden(res, obj, problems)


# -- defaults ----------------------------------------------------------------------------------

def _items(limit_range: Obj, kind: str) -> list[Obj]:
    return [i for i in ((limit_range.get("spec") or {}).get("limits") or [])
            if isinstance(i, dict) and i.get("type") == kind]


def _default_pod(pod: Obj, limit_range: Obj) -> None:
    limits: Values = {}
    requests: Values = {}
    for item in _items(limit_range, "Container"):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    notes: list[str] = []
    spec = pod.get("spec") or {}
    for containers, prefix in ((spec.get("containers"), "container"),
                               (spec.get("initContainers"), "init container")):
        for container in containers or []:
            notes += _default_container(container, requests, limits, prefix)
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _default_container(container: Obj, requests: Values, limits: Values, prefix: str
                       ) -> list[str]:
    res = container.setdefault("resources", {})
    have_limits = res.setdefault("limits", {})
    have_requests = res.setdefault("requests", {})
    set_limits = sorted(k for k in limits if k not in have_limits)
    set_requests = sorted(k for k in requests if k not in have_requests)
    for key in set_limits:
        have_limits[key] = limits[key]
    for key in set_requests:
        have_requests[key] = requests[key]
    for key in ("limits", "requests"):
        if not res[key]:
            res.pop(key)
    name = container.get("name")
    notes = []
    if set_requests:
        notes.append(f"{', '.join(set_requests)} request for {prefix} {name}")
    if set_limits:
        notes.append(f"{', '.join(set_limits)} limit for {prefix} {name}")
    return notes


# -- checks ------------------------------------------------------------------------------------

def _pod_problems(pod: Obj, limit_range: Obj) -> list[str]:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    problems: list[str] = []
    for item in _items(limit_range, "Container"):
        for container in containers:
            res = container.get("resources") or {}
            problems += _bounds("Container", item, res.get("requests") or {},
                                res.get("limits") or {})
    for item in _items(limit_range, "Pod"):
        requests, limits = _pod_totals(spec)
        problems += _bounds("Pod", item, requests, limits)
    return problems


def _claim_problems(claim: Obj, limit_range: Obj) -> list[str]:
    requests = (((claim.get("spec") or {}).get("resources") or {}).get("requests")) or {}
    problems: list[str] = []
    for item in _items(limit_range, "PersistentVolumeClaim"):
        for name, bound in sorted((item.get("min") or {}).items()):
            problems += _min("PersistentVolumeClaim", name, bound, requests, {})
        for name, bound in sorted((item.get("max") or {}).items()):
            problems += _max_request("PersistentVolumeClaim", name, bound, requests)
    return problems


def _pod_totals(spec: Obj) -> tuple[Values, Values]:
    """podRequests / podLimits: the sum over the app containers, or each init container if
    it is more."""
    out: list[Values] = []
    for which in ("requests", "limits"):
        total: dict[str, Quantity] = {}
        for container in spec.get("containers") or []:
            for name, value in (((container.get("resources") or {}).get(which)) or {}).items():
                q = or_zero(value)
                total[name] = total[name] + q if name in total else q
        for container in spec.get("initContainers") or []:
            for name, value in (((container.get("resources") or {}).get(which)) or {}).items():
                q = or_zero(value)
                if name not in total or q > total[name]:
                    total[name] = q
        out.append({k: str(v) for k, v in total.items()})
    return out[0], out[1]


def _bounds(kind: str, item: Obj, requests: Values, limits: Values) -> list[str]:
    problems: list[str] = []
    for name, bound in sorted((item.get("min") or {}).items()):
        problems += _min(kind, name, bound, requests, limits)
    for name, bound in sorted((item.get("max") or {}).items()):
        problems += _max(kind, name, bound, requests, limits)
    for name, bound in sorted((item.get("maxLimitRequestRatio") or {}).items()):
        problems += _ratio(kind, name, bound, requests, limits)
    return problems


def _min(kind: str, name: str, bound: Any, requests: Values, limits: Values) -> list[str]:
    enforced = or_zero(bound)
    if name not in requests:
        return [f"minimum {name} usage per {kind} is {enforced}.  No request is specified"]
    if or_zero(requests[name]) < enforced:
        return [f"minimum {name} usage per {kind} is {enforced}, but request is "
                f"{or_zero(requests[name])}"]
    if name in limits and or_zero(limits[name]) < enforced:
        return [f"minimum {name} usage per {kind} is {enforced}, but limit is "
                f"{or_zero(limits[name])}"]
    return []


def _max(kind: str, name: str, bound: Any, requests: Values, limits: Values) -> list[str]:
    enforced = or_zero(bound)
    if name not in limits:
        return [f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"]
    if or_zero(limits[name]) > enforced:
        return [f"maximum {name} usage per {kind} is {enforced}, but limit is "
                f"{or_zero(limits[name])}"]
    if name in requests and or_zero(requests[name]) > enforced:
        return [f"maximum {name} usage per {kind} is {enforced}, but request is "
                f"{or_zero(requests[name])}"]
    return []


def _max_request(kind: str, name: str, bound: Any, requests: Values) -> list[str]:
    enforced = or_zero(bound)
    if name not in requests:
        return [f"maximum {name} usage per {kind} is {enforced}.  No request is specified"]
    if or_zero(requests[name]) > enforced:
        return [f"maximum {name} usage per {kind} is {enforced}, but request is "
                f"{or_zero(requests[name])}"]
    return []


def _ratio(kind: str, name: str, bound: Any, requests: Values, limits: Values) -> list[str]:
    enforced = or_zero(bound)
    request = or_zero(requests[name]) if name in requests else None
    limit = or_zero(limits[name]) if name in limits else None
    if request is None or request.value == 0:
        return [f"{name} max limit to request ratio per {kind} is {enforced}, but no request "
                "is specified or request is 0"]
    if limit is None or limit.value == 0:
        return [f"{name} max limit to request ratio per {kind} is {enforced}, but no limit is "
                "specified or limit is 0"]
    ratio = limit.value / request.value
    if ratio > enforced.value:
        return [f"{name} max limit to request ratio per {kind} is {enforced}, but provided "
                f"ratio is {float(ratio):f}"]
    return []


def _forbidden(res: Resource, obj: Obj, problems: list[str]) -> ApiError:
    """utilerrors.NewAggregate's text: one message as it is, several as ``[a, b]``."""
    unique = list(dict.fromkeys(problems))
    text = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    return forbidden(res, obj, text)


__all__ = ["ANNOTATION", "admit", "limit_range_spec"]
