"""What an object counts against a ResourceQuota: kube-controller-manager's quota evaluators.

Shared by the ResourceQuota controller (``status.used``) and the API server's quota
admission (the check at create), so both count alike. The names are Kubernetes' own
(https://kubernetes.io/docs/concepts/policy/resource-quotas/):

* compute, from pods: ``requests.cpu`` (also ``cpu``), ``requests.memory`` (``memory``),
  ``limits.cpu``, ``limits.memory``, the same for ``ephemeral-storage``; a pod's value is the
  sum over its containers or its largest init container, whichever is more;
* storage, from claims: ``requests.storage``, ``persistentvolumeclaims``, and per class
  ``<class>.storageclass.storage.k8s.io/requests.storage`` and ``.../persistentvolumeclaims``;
* object counts: ``pods``, ``services`` (``services.nodeports``, ``services.loadbalancers``),
  ``configmaps``, ``secrets``, ``persistentvolumeclaims``, ``resourcequotas``,
  ``replicationcontrollers``, and ``count/<resource>.<group>`` for any served kind.

Pods in a terminal phase count for nothing. Scopes (``Terminating``, ``NotTerminating``,
``BestEffort``, ``NotBestEffort``, as ``spec.scopes`` or a ``scopeSelector`` with ``In`` /
``Exists`` / ``DoesNotExist``) apply to pods; a scoped quota tracks nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kompy.client import resources
from kompy.client.objects import Obj, pod_terminal
from kompy.client.quantity import ZERO, Quantity, or_zero
from kompy.client.resources import Resource

Usage = dict[str, Quantity]
# (resource, namespace) -> the objects of that resource in the namespace
Lister = Callable[[Resource, str], list[Obj]]

ONE = Quantity.parse(1)
COMPUTE = ("cpu", "memory", "ephemeral-storage")
# Resources a pod's every container must state once a quota limits them (pods.go's
# validationSet): "this was a mistake", upstream says, and keeps it for compatibility.
MUST_SPECIFY = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
                "limits.memory")
CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
POD_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort")
_PLAIN_COUNTS = {"pods": "pods", "services": "services", "configmaps": "configmaps",
                 "secrets": "secrets", "persistentvolumeclaims": "persistentvolumeclaims",
                 "resourcequotas": "resourcequotas"}


def count_name(res: Resource) -> str:
    """``count/deployments.apps``; ``count/pods`` for the core group."""
    return f"count/{res.plural}.{res.group}" if res.group else f"count/{res.plural}"


def resource_of(name: str) -> Resource | None:
    """Which served resource a quota's resource name is counted from."""
    if name in _PLAIN_COUNTS:
        return resources.lookup(_PLAIN_COUNTS[name])
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        return resources.find(group, _version(group, plural), plural)
    if name.startswith("services."):
        return resources.lookup("services")
    if name == "requests.storage" or CLASS_SUFFIX in name:
        return resources.lookup("persistentvolumeclaims")
    base = name.split(".", 1)[1] if name.startswith(("requests.", "limits.")) else name
    if base in COMPUTE:
        return resources.lookup("pods")
    return None


def _version(group: str, plural: str) -> str:
    for res in resources.RESOURCES:
        if res.group == group and res.plural == plural:
            return res.version
    return ""


# -- what one object uses --------------------------------------------------------------------

def usage(res: Resource, obj: Obj) -> Usage:
    """Everything ``obj`` counts for (before masking with a quota's resources)."""
    out: Usage = {count_name(res): ONE}
    if res.plural in _PLAIN_COUNTS.values():
        out[res.plural] = ONE
    if res.kind == "Pod":
        if pod_terminal(obj):
            return {}
        out.update(pod_compute(obj))
    elif res.kind == "Service":
        out.update(_service(obj))
    elif res.kind == "PersistentVolumeClaim":
        out.update(_claim(obj))
    return out


def pod_compute(pod: Obj) -> Usage:
    spec = pod.get("spec") or {}
    out: Usage = {}
    for which in ("requests", "limits"):
        app = _containers_total(spec.get("containers") or [], which, add=True)
        init = _containers_total(spec.get("initContainers") or [], which, add=False)
        for name in set(app) | set(init):
            value = max(app.get(name, ZERO), init.get(name, ZERO))
            out[f"{which}.{name}"] = value
            if which == "requests":
                out[name] = value
    return out


def _containers_total(containers: list[Obj], which: str, *, add: bool) -> Usage:
    out: Usage = {}
    for container in containers:
        values = ((container.get("resources") or {}).get(which)) or {}
        for name in COMPUTE:
            if name not in values:
                continue
            value = or_zero(values[name])
            before = out.get(name)
            out[name] = value if before is None else (before + value if add else
                                                      max(before, value))
    return out


def _service(svc: Obj) -> Usage:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    out: Usage = {}
    if kind == "LoadBalancer":
        out["services.loadbalancers"] = ONE
    if kind in ("NodePort", "LoadBalancer"):
        ports = len(spec.get("ports") or [])
        out["services.nodeports"] = Quantity.parse(ports)
    return out


def _claim(claim: Obj) -> Usage:
    spec = claim.get("spec") or {}
    requested = (((spec.get("resources") or {}).get("requests")) or {}).get("storage")
    storage = or_zero(requested) if requested is not None else ZERO
    out: Usage = {"requests.storage": storage}
    klass = spec.get("storageClassName")
    if klass:
        out[f"{klass}{CLASS_SUFFIX}requests.storage"] = storage
        out[f"{klass}{CLASS_SUFFIX}persistentvolumeclaims"] = ONE
    return out


# -- which quotas an object meets --------------------------------------------------------------

def hard(quota: Obj) -> dict[str, Quantity]:
    values = ((quota.get("spec") or {}).get("hard")) or {}
    return {str(k): or_zero(v) for k, v in values.items()}


def scopes(quota: Obj) -> list[tuple[str, str, list[str]]]:
    """(scope, operator, values) of ``spec.scopes`` and ``spec.scopeSelector``."""
    spec = quota.get("spec") or {}
    out: list[tuple[str, str, list[str]]] = [(str(s), "Exists", [])
                                             for s in spec.get("scopes") or []]
    for expr in ((spec.get("scopeSelector") or {}).get("matchExpressions")) or []:
        out.append((str(expr.get("scopeName")), str(expr.get("operator") or "Exists"),
                    [str(v) for v in expr.get("values") or []]))
    return out


def matches(quota: Obj, res: Resource, obj: Obj) -> bool:
    """Whether the quota tracks ``obj`` at all (its scopes; pods alone have scopes)."""
    wanted = scopes(quota)
    if not wanted:
        return True
    if res.kind != "Pod":
        return False
    return all(_scope_matches(scope, op, values, obj) for scope, op, values in wanted)


def _scope_matches(scope: str, op: str, values: list[str], pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        found = {"In": name in values, "NotIn": name not in values,
                 "Exists": bool(name), "DoesNotExist": not name}
        return bool(found.get(op, False))
    facts = {"Terminating": spec.get("activeDeadlineSeconds") is not None,
             "BestEffort": _best_effort(spec)}
    positive = scope.removeprefix("Not")
    if positive not in facts:
        return False
    value = facts[positive] == (scope == positive)
    return not value if op == "DoesNotExist" else value


def _best_effort(spec: Obj) -> bool:
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = container.get("resources") or {}
        if any(name in (res.get(which) or {}) for which in ("requests", "limits")
               for name in ("cpu", "memory")):
            return False
    return True


def missing_specs(quota_names: Iterable[str], pod: Obj) -> dict[str, list[str]]:
    """Resource -> the containers that do not state it, for the compute resources the quota
    limits: pods.go's Constraints, whose error is ``must specify ...``."""
    required = sorted(set(quota_names) & set(MUST_SPECIFY))
    out: dict[str, list[str]] = {}
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = container.get("resources") or {}
        stated = set()
        for name in ("cpu", "memory"):
            if name in (res.get("requests") or {}):
                stated |= {name, f"requests.{name}"}
            if name in (res.get("limits") or {}):
                stated.add(f"limits.{name}")
        for name in required:
            if name not in stated:
                out.setdefault(name, []).append(str(container.get("name")))
    return {name: sorted(set(names)) for name, names in out.items()}


def must_specify_message(missing: dict[str, list[str]]) -> str:
    return "must specify " + "; ".join(f"{name} for: {','.join(containers)}"
                                       for name, containers in sorted(missing.items()))


# -- what a namespace uses ---------------------------------------------------------------------

def used(quota: Obj, namespace: str, listing: Lister) -> dict[str, Quantity]:
    """``status.used`` of the quota: each of its resources summed over the namespace."""
    limits = hard(quota)
    out = {name: ZERO for name in limits}
    by_resource: dict[str, Resource] = {}
    for name in limits:
        res = resource_of(name)
        if res is not None:
            by_resource[res.plural] = res
    for res in by_resource.values():
        for obj in listing(res, namespace):
            if not matches(quota, res, obj):
                continue
            for name, value in usage(res, obj).items():
                if name in out:
                    out[name] = out[name] + value
    return out


def pretty(values: dict[str, Quantity]) -> str:
    """quota admission's prettyPrint: ``a=1,b=2`` by name."""
    return ",".join(f"{name}={values[name]}" for name in sorted(values))


__all__ = ["Lister", "Usage", "count_name", "hard", "matches", "missing_specs",
           "must_specify_message", "pretty", "resource_of", "usage", "used"]
