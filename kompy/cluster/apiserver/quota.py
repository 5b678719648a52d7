"""The ResourceQuota admission plugin: a create (or a claim's resize) that would take a
namespace over one of its quotas is refused with 403 Forbidden, in kube-apiserver's words:

    pods "web" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2,
    limited: pods=2
    pods "web" is forbidden: failed quota: compute: must specify limits.cpu for: web

As upstream, the check reads a quota's ``status.used`` (kept by the ResourceQuota controller,
:mod:`kompy.cluster.controllers.quotausage` counts for both) and charges the object to it,
so a create costs the same however many objects the namespace holds. The API server holds
the store (``Store.atomically``) from the quotas' reading through the object's write to the
charge: two creates cannot both take the last unit, and the controller's recount (which
reads the quota, then the objects, and writes with the quota's resourceVersion) either
precedes the whole step or conflicts and counts again, so no object is counted twice and
no recount undoes a charge. (Upstream charges first, with a resourceVersion precondition,
and stores after; one lock around both is the same guarantee without the window between.)
A quota whose status lacks a resource yet (just made) is counted from the store.
https://kubernetes.io/docs/concepts/policy/resource-quotas/
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kompy.client import resources
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.client.quantity import ZERO, Quantity, QuantityError
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


@dataclass(frozen=True)
class Charge:
    """A quota with the new usage to write once the object is stored: read, checked, stored
    and charged while the API server holds the store (one step for every other writer)."""

    quota: Obj


def check(res: Resource, obj: Obj, listing: Listing, old: Obj | None = None
          ) -> list[Charge]:
    """Raise Forbidden when ``obj`` (new, or replacing ``old``) breaks a quota of its
    namespace (the quotas by name; the first that refuses is reported); else the quotas
    with the usage to write once the object is stored."""
    if old is not None and res.kind != "PersistentVolumeClaim":
        return []   # only a claim's growth changes usage on update (pods' are fixed)
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    if not namespace or not res.namespaced:
        return []
    quotas = sorted(listing(QUOTAS, namespace),
                    key=lambda q: str((q.get("metadata") or {}).get("name")))
    pertinent = [q for q in quotas if usage.matches(q, res, obj)]
    if not pertinent:
        return []
    for quota in pertinent:
        _constraints(res, obj, quota)
    delta = _delta(res, obj, old)
    if not delta:
        return []
    charged = [_fits(res, obj, quota, delta, listing, namespace) for quota in pertinent]
    return [charge for charge in charged if charge is not None]


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
          namespace: str) -> Charge | None:
    limits = usage.hard(quota)
    requested = {k: v for k, v in delta.items() if k in limits}
    if not requested:
        return None
    current = _status_used(quota) or usage.used(quota, namespace, listing)
    exceeded = sorted(k for k, v in requested.items() if current[k] + v > limits[k])
    if exceeded:
        raise forbidden(res, obj, f"exceeded quota: {_name(quota)}, requested: "
                                  f"{usage.pretty({k: requested[k] for k in exceeded})}, "
                                  f"used: {usage.pretty({k: current[k] for k in exceeded})}, "
                                  f"limited: {usage.pretty({k: limits[k] for k in exceeded})}")
    status = {"hard": {k: str(v) for k, v in limits.items()},
              "used": {k: str(current.get(k, ZERO) + requested.get(k, ZERO)) for k in limits}}
    return Charge({**quota, "status": status})


def _status_used(quota: Obj) -> dict[str, Quantity] | None:
    """The quota's recorded usage, if it covers every resource of the quota."""
    recorded = ((quota.get("status") or {}).get("used")) or {}
    limits = usage.hard(quota)
    if not all(k in recorded for k in limits):
        return None
    try:
        return {k: Quantity.parse(recorded[k]) for k in limits}
    except QuantityError:
        return None


def _name(quota: Obj) -> str:
    return str((quota.get("metadata") or {}).get("name") or "")


__all__ = ["Charge", "check", "forbidden"]
