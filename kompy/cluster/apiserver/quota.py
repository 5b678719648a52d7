"""The ResourceQuota admission plugin: a create (or a claim's resize) that would take a
namespace over one of its quotas is refused with 403 Forbidden, in kube-apiserver's words:

    pods "web" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2,
    limited: pods=2
    pods "web" is forbidden: failed quota: compute: must specify limits.cpu for: web

Usage is counted from the store at the moment of the check, under the same lock as the
create (two creates cannot both take the last unit), by the evaluators the ResourceQuota
controller uses for ``status.used`` (:mod:`kompy.cluster.controllers.quotausage`).
https://kubernetes.io/docs/concepts/policy/resource-quotas/
"""

from __future__ import annotations

from collections.abc import Callable

from kompy.client import resources
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.client.quantity import ZERO, Quantity
from kompy.client.resources import Resource
from kompy.cluster.controllers import quotausage as usage

QUOTAS = resources.lookup("resourcequotas")
Listing = Callable[[Resource, str], list[Obj]]


def forbidden(res: Resource, obj: Obj, message: str) -> ApiError:
    """admission.NewForbidden: ``<plural>[.<group>] "<name>" is forbidden: <message>``."""
    name = (obj.get("metadata") or {}).get("name") or ""
    plural = f"{res.plural}.{res.group}" if res.group else res.plural
    return ApiError(403, "Forbidden", f'{plural} "{name}" is forbidden: {message}',
                    body={"details": {"name": name, "group": res.group, "kind": res.plural}})


def check(res: Resource, obj: Obj, listing: Listing, old: Obj | None = None) -> None:
    """Raise Forbidden when ``obj`` (new, or replacing ``old``) breaks a quota of its
    namespace. The quotas are checked by name; the first that refuses is reported."""
    if old is not None and res.kind != "PersistentVolumeClaim":
        return   # only a claim's growth changes usage on update (pods' resources are fixed)
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    if not namespace or not res.namespaced:
        return
    quotas = sorted(listing(QUOTAS, namespace),
                    key=lambda q: str((q.get("metadata") or {}).get("name")))
    pertinent = [q for q in quotas if usage.matches(q, res, obj)]
    if not pertinent:
        return
    for quota in pertinent:
        _constraints(res, obj, quota)
    delta = _delta(res, obj, old)
    if not delta:
        return
    for quota in pertinent:
        _fits(res, obj, quota, delta, listing, namespace)


def _constraints(res: Resource, obj: Obj, quota: Obj) -> None:
    if res.kind != "Pod":
        return
    missing = usage.missing_specs(usage.hard(quota), obj)
    if missing:
        raise forbidden(res, obj, f"failed quota: {_name(quota)}: "
                                  f"{usage.must_specify_message(missing)}")


def _delta(res: Resource, obj: Obj, old: Obj | None) -> dict[str, Quantity]:
    """What the write adds: all of a new object, the growth of an updated claim."""
    new = usage.usage(res, obj)
    if old is not None:
        before = usage.usage(res, old)
        new = {k: v - before.get(k, ZERO) for k, v in new.items()}
    return {k: v for k, v in new.items() if v.value > 0}


def _fits(res: Resource, obj: Obj, quota: Obj, delta: dict[str, Quantity], listing: Listing,
          namespace: str) -> None:
    limits = usage.hard(quota)
    requested = {k: v for k, v in delta.items() if k in limits}
    if not requested:
        return
    current = usage.used(quota, namespace, listing)
    exceeded = sorted(k for k, v in requested.items() if current[k] + v > limits[k])
    if exceeded:
        raise forbidden(res, obj, f"exceeded quota: {_name(quota)}, requested: "
                                  f"{usage.pretty({k: requested[k] for k in exceeded})}, "
                                  f"used: {usage.pretty({k: current[k] for k in exceeded})}, "
                                  f"limited: {usage.pretty({k: limits[k] for k in exceeded})}")


def _name(quota: Obj) -> str:
    return str((quota.get("metadata") or {}).get("name") or "")


__all__ = ["check", "forbidden"]
