"""Compose volumes -> pod volumes, container mounts, PersistentVolumeClaims and ConfigMaps.

- A named volume becomes a PersistentVolumeClaim named after it (one per project, shared by
  the services that mount it), or a per-replica volumeClaimTemplate in a StatefulSet.
- A bind mount's host folder is not on the cluster's nodes: kompy.convert.bindmounts decides
  what it becomes (by default its content, in a ConfigMap).
- tmpfs mounts and ``shm_size`` become memory-backed emptyDirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kompy.convert.bindmounts import plan_bind
from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.mounts import VolumePlan, add_mount, claim_spec
from kompy.convert.seeding import Seed
from kompy.convert.settings import VolumeSettings
from kompy.errors import ConvertError, KeyPath
from kompy.model import ByteSize, NullLocator, Service, ServiceVolume

if TYPE_CHECKING:
    from kompy.client.objects import Obj


def plan_volumes(ctx: ConvertContext, service: Service, statefulset: bool) -> VolumePlan:
    plan = VolumePlan()
    base: KeyPath = ("services", service.name)
    own = ctx.settings(service).volume
    for index in range(len(service.volumes)):
        _plan_one(ctx, plan, service, index, (*base, "volumes", index), own, statefulset)
    _volumes_from(ctx, plan, service, statefulset)
    for index, entry in enumerate(service.tmpfs):
        target, _, options = entry.partition(":")
        size = _tmpfs_size(options)
        name = f"{k8s_name(service.name, 50)}-tmp{index}"
        plan.volumes.append({"name": name, "emptyDir": _memory(size)})
        plan.mounts.append({"name": name, "mountPath": target})
        ctx.mapped((*base, "tmpfs", index), "emptyDir (medium: Memory)")
    if service.shm_size is not None:
        name = f"{k8s_name(service.name, 55)}-shm"
        plan.volumes.append({"name": name, "emptyDir": _memory(service.shm_size)})
        plan.mounts.append({"name": name, "mountPath": "/dev/shm"})
        ctx.mapped((*base, "shm_size"), "emptyDir (medium: Memory) at /dev/shm")
    return plan


def _plan_one(ctx: ConvertContext, plan: VolumePlan, service: Service, index: int,
              path: KeyPath, own: VolumeSettings, statefulset: bool) -> None:
    volume = service.volumes[index]
    if volume.type == "volume" and volume.source:
        _named(ctx, plan, service, volume, path, own, statefulset)
    elif volume.type == "volume":
        name = f"{k8s_name(service.name, 50)}-anon{index}"
        add_mount(plan, name, {"emptyDir": {}}, volume, own)
        _seed(plan, volume)
        ctx.approximated(path, "emptyDir", "an anonymous volume lives as long as the pod")
    elif volume.type == "bind":
        plan_bind(ctx, plan, service, index, path, own, statefulset)
    elif volume.type == "tmpfs":
        name = f"{k8s_name(service.name, 50)}-tmpfs{index}"
        add_mount(plan, name, {"emptyDir": _memory(volume.tmpfs_size)}, volume, own)
        ctx.mapped(path, "emptyDir (medium: Memory)")
    else:
        ctx.dropped(path, f"{volume.type} volumes have no Kubernetes equivalent")


def _volumes_from(ctx: ConvertContext, plan: VolumePlan, service: Service,
                  statefulset: bool) -> None:
    """``volumes_from: [other, other:ro]``: the other service's volumes (and, as Kompose
    reads it, those it takes from others) mounted at the same paths, backed by the same
    claims and ConfigMaps; a path the service mounts itself keeps its own volume."""
    taken = {m["mountPath"] for m in plan.mounts}
    for position, entry in enumerate(service.other.get("volumes_from") or ()):
        path: KeyPath = ("services", service.name, "volumes_from", position)
        name, _, mode = str(entry).partition(":")
        if name == "container" or name not in ctx.project.services:
            ctx.dropped(path, f"volumes_from {entry}: only services of the project can lend "
                        "their volumes in Kubernetes", hint="mount a named volume instead")
            continue
        mark = len(ctx.report)  # the inherited volumes are reported once, below
        seeds = len(plan.seeds)  # the lender's pod fills them, as its container did
        for owner, index in _lent(ctx, ctx.project.services[name], {service.name}):
            volume = owner.volumes[index]
            if volume.target in taken or volume.type == "tmpfs":
                continue
            taken.add(volume.target)
            first = len(plan.mounts)
            _plan_one(ctx, plan, owner, index, path, ctx.settings(owner).volume, statefulset)
            if mode.startswith("ro"):
                for mount in plan.mounts[first:]:
                    mount["readOnly"] = True
            if volume.type == "volume" and not volume.source and (
                    ctx.pod_name(owner) != ctx.pod_name(service)):
                ctx.warn(path, f"the anonymous volume {volume.target} of {owner.name} is an "
                         f"emptyDir of each pod: {service.name} gets its own, not "
                         f"{owner.name}'s", hint=f"name the volume in {owner.name}")
        del ctx.report[mark:]
        del plan.seeds[seeds:]
        ctx.mapped(path, f"the volumes of {name}, on the same claims and ConfigMaps")


def _lent(ctx: ConvertContext, owner: Service, seen: set[str]
          ) -> list[tuple[Service, int]]:
    """The volumes ``owner`` lends: its own, then those it takes with volumes_from."""
    seen = seen | {owner.name}
    out = [(owner, index) for index in range(len(owner.volumes))]
    for entry in owner.other.get("volumes_from") or ():
        name = str(entry).partition(":")[0]
        if name in ctx.project.services and name not in seen:
            out.extend(_lent(ctx, ctx.project.services[name], seen))
    return out


def _seed(plan: VolumePlan, volume: ServiceVolume) -> None:
    """The mount just added is a new volume Docker would fill from the image, unless the
    Compose file says ``nocopy``."""
    if not volume.volume_nocopy:
        plan.seeds.append(Seed(plan.mounts[-1], volume.target))


def _memory(size: ByteSize | None) -> Obj:
    out: Obj = {"medium": "Memory"}
    if size is not None and size.bytes > 0:
        out["sizeLimit"] = size.to_kubernetes()
    return out


def _tmpfs_size(options: str) -> ByteSize | None:
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key.strip() == "size" and value:
            try:
                return ByteSize.parse(value, NullLocator(), ())
            except ConvertError:
                return None
            except Exception:  # noqa: BLE001 - a bad size only loses the limit
                return None
    return None


def _named(ctx: ConvertContext, plan: VolumePlan, service: Service, volume: ServiceVolume,
           path: KeyPath, own: VolumeSettings, statefulset: bool) -> None:
    assert volume.source is not None
    definition = ctx.project.volumes.get(volume.source)
    settings = ctx.volume_settings(volume.source).merged_over(own)
    if definition is not None and definition.driver not in (None, "local"):
        ctx.dropped(("volumes", volume.source, "driver"),
                    f"volume driver {definition.driver} is ignored; a PersistentVolumeClaim of "
                    "the cluster's default storage class is used",
                    hint="set kompose.volume.storage-class-name to pick the storage")
    if settings.type == "emptyDir":
        add_mount(plan, k8s_name(volume.source), {"emptyDir": {}}, volume, settings)
        _seed(plan, volume)
        ctx.approximated(path, "emptyDir", "kompose.volume.type emptyDir: data is not kept")
        return
    external = definition is not None and definition.external
    claim_name = k8s_name((definition.external_name if definition else None) or volume.source)
    if statefulset and not external:
        if all(t.name != claim_name for t in plan.claim_templates):
            plan.claim_templates.append(claim_spec(ctx, claim_name, settings))
        others = [name for name in ctx.volume_users(volume.source) if name != service.name]
        if others:
            ctx.warn(path, f"volume {volume.source} is shared with {', '.join(others)}, but "
                     "a StatefulSet gives each of its pods a claim of its own",
                     hint="use a Deployment for this service (or one pod for both: "
                     "--service-group-mode volume)")
        add_mount(plan, claim_name, None, volume, settings)
        _seed(plan, volume)
        ctx.mapped(path, f"StatefulSet volumeClaimTemplate {claim_name}")
        return
    source: Obj = {"persistentVolumeClaim": {"claimName": claim_name}}
    add_mount(plan, claim_name, source, volume, settings)
    _seed(plan, volume)
    if not external:
        plan.claims.append(claim_spec(ctx, claim_name, settings))
    ctx.mapped(path, f"PersistentVolumeClaim/{claim_name}")


