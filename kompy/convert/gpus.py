"""GPUs: Compose's device reservations and ``gpus:`` as a device plugin's extended resource.

Compose asks for GPUs two ways (compose-spec deploy.md "devices", services.md "gpus"):
``deploy.resources.reservations.devices: [{capabilities: [gpu], driver, count, device_ids}]``
and the service-level ``gpus: all`` or ``gpus: [{driver, count, device_ids}]``. Kubernetes
gives GPUs through device plugins, as an extended resource in ``resources.limits``
(https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/): ``nvidia.com/gpu: 2``.

- ``count: N`` is N; ``device_ids: [a, b]`` is their number (a pod cannot choose which
  GPUs: approximated, with a warning).
- ``count: all``, or neither ``count`` nor ``device_ids`` (the spec: "all devices that
  satisfy the request"), has no Kubernetes equivalent: a pod asks for a number. It becomes 1,
  with a warning naming the fix (``count: N``).
- The driver names the resource: ``nvidia`` (also the default, as Docker's ``--gpus``),
  ``amd`` (``amd.com/gpu``), ``intel`` (``gpu.intel.com/i915``); another driver is dropped
  with a warning. A device reservation without the ``gpu`` capability (a TPU, a custom
  device) has no generic equivalent and is dropped with a warning too.
"""

from __future__ import annotations

from typing import Any

from kompy.convert.context import ConvertContext
from kompy.errors import KeyPath
from kompy.model import Service

RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}


def gpu_limits(ctx: ConvertContext, service: Service, base: KeyPath) -> dict[str, str]:
    """The extended-resource limits (``{"nvidia.com/gpu": "2"}``) ``service`` asks for."""
    totals: dict[str, int] = {}
    for path, request in _requests(ctx, service, base):
        found = _one(ctx, path, request)
        if found is not None:
            resource, count = found
            totals[resource] = totals.get(resource, 0) + count
    return {resource: str(count) for resource, count in sorted(totals.items())}


def _requests(ctx: ConvertContext, service: Service, base: KeyPath
              ) -> list[tuple[KeyPath, dict[str, Any]]]:
    out: list[tuple[KeyPath, dict[str, Any]]] = []
    res = service.deploy.resources if service.deploy else None
    devices = res.reservations.extra.get("devices") if res is not None else None
    for index, device in enumerate(devices or ()):
        path: KeyPath = (*base, "deploy", "resources", "reservations", "devices", index)
        caps = [str(c) for c in (device or {}).get("capabilities") or ()]
        if "gpu" not in caps:
            ctx.dropped(path, f"a device reservation with capabilities {caps} has no "
                        "Kubernetes equivalent (only GPUs map to a device plugin resource)",
                        hint="request the device plugin's resource in a --templates override")
            continue
        out.append((path, dict(device)))
    gpus = service.other.get("gpus")
    if gpus == "all":
        out.append(((*base, "gpus"), {"count": "all"}))
    elif isinstance(gpus, list):
        out.extend(((*base, "gpus", index), dict(item or {})) for index, item in enumerate(gpus))
    return out


def _one(ctx: ConvertContext, path: KeyPath, request: dict[str, Any]) -> tuple[str, int] | None:
    driver = str(request.get("driver") or "nvidia").lower()
    resource = RESOURCES.get(driver)
    if resource is None:
        ctx.dropped(path, f"GPU driver {driver!r} has no known Kubernetes device plugin "
                    "resource", hint=f"known drivers: {', '.join(sorted(RESOURCES))}")
        return None
    count = request.get("count")
    ids = request.get("device_ids") or ()
    target = f"resources.limits.{resource}"
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        ctx.mapped(path, target)
        return resource, count
    if ids and count is None:
        ctx.warn(path, f"device_ids {list(ids)}: a pod cannot choose which GPUs it gets; it "
                 f"asks for {len(ids)}", hint="use count: N")
        ctx.approximated(path, target, "specific GPUs cannot be chosen; their number is")
        return resource, len(ids)
    ctx.warn(path, "all GPUs of the host: Kubernetes allocates GPUs by number, so the pod "
             f"asks for 1 {resource}", hint="give count: N for the number the service needs")
    ctx.approximated(path, target, "all GPUs -> 1 (a pod asks for a number)")
    return resource, 1
