"""Compose volumes -> pod volumes, container mounts, PersistentVolumeClaims and ConfigMaps.

- A named volume becomes a PersistentVolumeClaim named after it (one per project, shared by
  the services that mount it), or a per-replica volumeClaimTemplate in a StatefulSet.
- A bind mount has no Kubernetes equivalent (the host folder is not on the node); it
  becomes what ``--volumes`` (or ``kompose.volume.type``) says, with a warning each time:
  a PVC (empty!), an emptyDir, a hostPath, or a ConfigMap holding the file's content.
- tmpfs mounts and ``shm_size`` become memory-backed emptyDirs.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.settings import VolumeSettings
from kompy.convert.specs import ClaimSpec, Obj
from kompy.errors import ConvertError, KeyPath
from kompy.model import ByteSize, NullLocator, Service, ServiceVolume

CONFIGMAP_LIMIT = 1024 * 1024  # bytes: the API server's limit on one object


@dataclass
class VolumePlan:
    volumes: list[Obj] = field(default_factory=list)  # pod volumes
    mounts: list[Obj] = field(default_factory=list)  # this container's mounts
    claims: list[ClaimSpec] = field(default_factory=list)  # PVC objects to create
    claim_templates: list[ClaimSpec] = field(default_factory=list)  # StatefulSet only
    objects: list[Obj] = field(default_factory=list)  # ConfigMaps of bind-mounted files


def plan_volumes(ctx: ConvertContext, service: Service, statefulset: bool) -> VolumePlan:
    plan = VolumePlan()
    base: KeyPath = ("services", service.name)
    own = ctx.settings(service).volume
    for index, volume in enumerate(service.volumes):
        path: KeyPath = (*base, "volumes", index)
        if volume.type == "volume" and volume.source:
            _named(ctx, plan, service, volume, path, own, statefulset)
        elif volume.type == "volume":
            name = f"{k8s_name(service.name, 50)}-anon{index}"
            _add(plan, name, {"emptyDir": {}}, volume, own)
            ctx.approximated(path, "emptyDir", "an anonymous volume lives as long as the pod")
        elif volume.type == "bind":
            _bind(ctx, plan, service, volume, index, path, own, statefulset)
        elif volume.type == "tmpfs":
            name = f"{k8s_name(service.name, 50)}-tmpfs{index}"
            _add(plan, name, {"emptyDir": _memory(volume.tmpfs_size)}, volume, own)
            ctx.mapped(path, "emptyDir (medium: Memory)")
        else:
            ctx.dropped(path, f"{volume.type} volumes have no Kubernetes equivalent")
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


def _add(plan: VolumePlan, name: str, source: Obj | None, volume: ServiceVolume,
         settings: VolumeSettings) -> None:
    if source is not None:
        plan.volumes.append({"name": name, **source})
    mount: Obj = {"name": name, "mountPath": volume.target}
    if volume.read_only:
        mount["readOnly"] = True
    subpath = volume.volume_subpath or settings.subpath
    if subpath:
        mount["subPath"] = subpath
    plan.mounts.append(mount)


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


def claim(ctx: ConvertContext, name: str, settings: VolumeSettings) -> ClaimSpec:
    labels = {**ctx.project_labels(), "app.kubernetes.io/component": "storage"}
    selector = None
    if settings.selector:
        if "=" in settings.selector:
            pairs = (item.partition("=") for item in settings.selector.split(","))
            selector = {"matchLabels": {k.strip(): v.strip() for k, _, v in pairs}}
        else:
            # Kompose's kompose.volume.selector: a bare value matched as io.kompose.service.
            selector = {"matchLabels": {"io.kompose.service": settings.selector}}
    return ClaimSpec(
        name=name,
        labels=labels,
        access_modes=[settings.access_mode or "ReadWriteOnce"],
        storage=settings.size or ctx.options.pvc_request_size,
        storage_class=settings.storage_class,
        selector=selector,
    )


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
        _add(plan, k8s_name(volume.source), {"emptyDir": {}}, volume, settings)
        ctx.approximated(path, "emptyDir", "kompose.volume.type emptyDir: data is not kept")
        return
    external = definition is not None and definition.external
    claim_name = k8s_name((definition.external_name if definition else None) or volume.source)
    if statefulset and not external:
        if all(t.name != claim_name for t in plan.claim_templates):
            plan.claim_templates.append(claim(ctx, claim_name, settings))
        others = [name for name in ctx.volume_users(volume.source) if name != service.name]
        if others:
            ctx.warn(path, f"volume {volume.source} is shared with {', '.join(others)}, but "
                     "a StatefulSet gives each of its pods a claim of its own",
                     hint="use a Deployment for this service (or one pod for both: "
                     "--service-group-mode volume)")
        _add(plan, claim_name, None, volume, settings)
        ctx.mapped(path, f"StatefulSet volumeClaimTemplate {claim_name}")
        return
    source: Obj = {"persistentVolumeClaim": {"claimName": claim_name}}
    _add(plan, claim_name, source, volume, settings)
    if not external:
        plan.claims.append(claim(ctx, claim_name, settings))
    ctx.mapped(path, f"PersistentVolumeClaim/{claim_name}")


def _bind(ctx: ConvertContext, plan: VolumePlan, service: Service, volume: ServiceVolume,
          index: int, path: KeyPath, own: VolumeSettings, statefulset: bool) -> None:
    source_text = volume.source or "?"
    mode = own.type or ctx.options.volumes
    if _host_only(source_text) and ctx.options.security == "default":
        # A socket or device only means something on the node itself: copying it into a
        # claim or a ConfigMap cannot work, so these stay host paths.
        mode = "hostPath"
    name = f"{k8s_name(service.name, 50)}-claim{index}"
    if mode == "hostPath":
        _add(plan, name, {"hostPath": {"path": source_text}}, volume, own)
        note = "a hostPath: the folder must exist on every node that runs the pod"
    elif mode == "emptyDir":
        _add(plan, name.replace("-claim", "-empty"), {"emptyDir": {}}, volume, own)
        note = "an empty emptyDir: the host folder's content is not there"
    elif mode == "configMap":
        _config_map(ctx, plan, service, volume, index, path, own)
        note = "a ConfigMap holding a copy of its content, read-only in the container"
    else:
        settings = own
        if statefulset:
            plan.claim_templates.append(claim(ctx, name, settings))
            _add(plan, name, None, volume, settings)
        else:
            plan.claims.append(claim(ctx, name, settings))
            _add(plan, name, {"persistentVolumeClaim": {"claimName": name}}, volume, settings)
        note = f"an empty PersistentVolumeClaim {name}: the host folder's content is not copied"
    hint = ("use a named volume or a top-level config instead" if mode == "configMap" else
            "use a named volume, a config, or --volumes configMap for single files")
    ctx.warn(path, f"bind mount {source_text} -> {volume.target} becomes {note}", hint=hint)
    ctx.approximated(path, mode, note)


def _host_only(source: str) -> bool:
    return source in ("/var/run/docker.sock", "/run/docker.sock") or source.startswith(
        ("/dev/", "/proc/", "/sys/"))


def _config_map(ctx: ConvertContext, plan: VolumePlan, service: Service, volume: ServiceVolume,
                index: int, path: KeyPath, own: VolumeSettings) -> None:
    source = _checked_source(ctx, volume, path)
    name = f"{k8s_name(service.name, 50)}-cm{index}"
    files = [source] if source.is_file() else sorted(
        p for p in source.iterdir() if p.is_file() and _key_ok(p.name))
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    total = 0
    for file in files:
        content = file.read_bytes()
        total += len(content)
        try:
            data[file.name] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[file.name] = base64.b64encode(content).decode("ascii")
    if total > CONFIGMAP_LIMIT:
        raise ConvertError(
            f"bind mount source {source} holds {total} bytes; a ConfigMap holds at most 1 MiB",
            location=ctx.locate(path), key_path=path,
            hint="use --volumes persistentVolumeClaim (or hostPath) for this mount",
        )
    objects = ctx.render("bind-configmap.yaml.j2", name=name, labels=ctx.labels(service),
                         data=data, binary_data=binary)
    plan.objects.extend(objects)
    if source.is_file():
        plan.volumes.append({"name": name, "configMap": {"name": name}})
        plan.mounts.append({"name": name, "mountPath": volume.target, "subPath": source.name,
                            "readOnly": True})
    else:
        _add(plan, name, {"configMap": {"name": name}}, volume, own)
        plan.mounts[-1]["readOnly"] = True


def _key_ok(name: str) -> bool:
    return all(c.isalnum() or c in "-._" for c in name)


def _checked_source(ctx: ConvertContext, volume: ServiceVolume, path: KeyPath) -> Path:
    raw = volume.source or ""
    source = Path(raw)
    if not source.is_absolute():
        source = Path(ctx.project.working_dir) / source
    real = Path(os.path.realpath(source))
    project = Path(os.path.realpath(ctx.project.working_dir))
    if not ctx.options.allow_outside_project and not real.is_relative_to(project):
        raise ConvertError(
            f"bind mount source {raw} is outside the project directory {project}",
            location=ctx.locate(path), key_path=path,
            hint="kompy only reads files of the project into ConfigMaps; "
            "pass --allow-outside-project to allow it",
        )
    if not real.exists():
        raise ConvertError(
            f"bind mount source {raw} does not exist; --volumes configMap needs its content",
            location=ctx.locate(path), key_path=path,
            hint="create the file, or use another --volumes mode",
        )
    return real
