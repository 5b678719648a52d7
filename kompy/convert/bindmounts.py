"""Bind mounts: the host's files are not on the cluster's nodes, so each bind mount becomes what
gives the container the same view (issue #9, class 1).

By default (no ``--volumes``, no ``kompose.volume.type``), by what the source is now:

- an existing file: a ConfigMap holding it, mounted with ``subPath`` on the target file, so
  the image's other files in that folder stay visible (a folder mount would hide them);
- an existing folder: a ConfigMap holding its files, subfolders included (``items`` paths,
  executable bits as ``mode: 0755``, non-UTF-8 files as ``binaryData``), mounted at the target;
  files under another mount of the same container are left out, as the container never sees
  them, and that mount gets its mount point;
- a missing path or an empty folder: an empty PersistentVolumeClaim (Compose creates a
  missing path as an empty folder, and the container writes there);
- a socket, device or pipe (``/var/run/docker.sock``), or a path outside the project folder
  without ``--allow-outside-project``: a hostPath (the Docker socket with ``type: Socket``).

ConfigMap volumes are read-only, and they are a copy taken at conversion time: a mount that
Compose left writable gets a warning, and so does a source-code mount (a folder inside the
service's build context: the dev-loop pattern), pointing at ``develop.watch`` and ``kompy
dev``. ``--volumes`` or ``kompose.volume.type`` (``x-kompy.volume.type``) choose one kind for
every bind mount, as in Kompose. Like Kompose (pkg/transformer/kubernetes: isConfigFile), a
file or a non-empty folder becomes a ConfigMap; unlike it, subfolders, modes and binary files
are kept, and a source too big for a ConfigMap is an error naming its biggest files.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from kompy.convert.bindcontent import (
    APPLY_ANNOTATION_LIMIT,
    CONFIGMAP_LIMIT,
    BindContent,
    biggest,
    layout,
    read_bind_content,
    source_state,
)
from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.mounts import VolumePlan, add_mount, claim_spec
from kompy.convert.settings import VolumeSettings
from kompy.errors import ConvertError, KeyPath
from kompy.model import Service, ServiceVolume

if TYPE_CHECKING:
    from kompy.client.objects import Obj

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def plan_bind(ctx: ConvertContext, plan: VolumePlan, service: Service, index: int,
              path: KeyPath, own: VolumeSettings, statefulset: bool) -> None:
    volume = service.volumes[index]
    source = _absolute(ctx, volume.source or "")
    shown = _shown(ctx, source)
    prefix = k8s_name(service.name, 50)
    mode = own.type or ctx.options.volumes
    host_only = _host_only(str(source))
    if host_only and ctx.options.security == "default":  # baseline forbids hostPath too
        mode = "hostPath"  # a socket or device only means something on the node itself
    elif mode is None:
        mode = _automatic(ctx, source)
    if mode == "configMap":
        _config_map(ctx, plan, service, volume, index, path, source, shown)
        return
    if mode == "hostPath":
        host: Obj = {"path": str(source)}
        if str(source) in DOCKER_SOCKETS:
            host["type"] = "Socket"
        add_mount(plan, f"{prefix}-claim{index}", {"hostPath": host}, volume, own)
        note = "a hostPath: the path must exist on every node that runs the pod"
        hint = "use a named volume or a config"
        if str(source) in DOCKER_SOCKETS:
            note = ("a hostPath of type Socket: the pod talks to the Docker engine of its node, "
                    "and nodes that run containerd or CRI-O have none")
            hint = "schedule the pod on nodes that run Docker (deploy.placement.constraints)"
        elif not host_only and not _inside_project(ctx, source):
            note = ("a hostPath, because it is outside the project folder (its content is "
                    "not copied): the path must exist on every node that runs the pod")
            hint = "pass --allow-outside-project to ship its content in a ConfigMap instead"
    elif mode == "emptyDir":
        add_mount(plan, f"{prefix}-empty{index}", {"emptyDir": {}}, volume, own)
        note = "an empty emptyDir: the host folder's content is not there"
        hint = "use a named volume or a config"
    else:
        name = _claim_name(ctx, service, index)
        if statefulset:
            plan.claim_templates.append(claim_spec(ctx, name, own))
            add_mount(plan, name, None, volume, own)
        else:
            plan.claims.append(claim_spec(ctx, name, own))
            add_mount(plan, name, {"persistentVolumeClaim": {"claimName": name}}, volume, own)
        state = source_state(source)
        if state in ("missing", "empty") and ctx.options.volumes is None and not own.type:
            note = (f"an empty PersistentVolumeClaim {name} (the host path is "
                    f"{'missing' if state == 'missing' else 'an empty folder'}, so there is "
                    "no content to copy)")
            hint = "use a named volume to share data between services and keep it"
        else:
            note = f"an empty PersistentVolumeClaim {name}: the host folder's content is not copied"
            hint = "drop --volumes / kompose.volume.type to ship the content in a ConfigMap"
    ctx.warn(path, f"bind mount {shown} -> {volume.target} becomes {note}", hint=hint)
    ctx.approximated(path, mode, note)


def _claim_name(ctx: ConvertContext, service: Service, index: int) -> str:
    """``<service>-claim<N>`` (Kompose's name); services bind-mounting the same host path share
    data under Compose, so they share the claim of the first of them (by name)."""
    source = service.volumes[index].source
    for name in sorted(ctx.project.services):
        for position, other in enumerate(ctx.project.services[name].volumes):
            if other.type == "bind" and other.source == source:
                return f"{k8s_name(name, 50)}-claim{position}"
    return f"{k8s_name(service.name, 50)}-claim{index}"


def _automatic(ctx: ConvertContext, source: Path) -> str:
    state = source_state(source)
    if state == "special":
        return "hostPath"
    if not _inside_project(ctx, source) and not ctx.options.allow_outside_project:
        return "hostPath"
    return "configMap" if state in ("file", "folder") else "persistentVolumeClaim"


def _host_only(source: str) -> bool:
    return source in DOCKER_SOCKETS or source.startswith(("/dev/", "/proc/", "/sys/"))


def _absolute(ctx: ConvertContext, raw: str) -> Path:
    source = Path(raw)
    return source if source.is_absolute() else Path(ctx.project.working_dir) / source


def _project(ctx: ConvertContext) -> Path:
    return Path(os.path.realpath(ctx.project.working_dir))


def _inside_project(ctx: ConvertContext, source: Path) -> bool:
    return Path(os.path.realpath(source)).is_relative_to(_project(ctx))


def _shown(ctx: ConvertContext, source: Path) -> str:
    """The source as the user would write it: relative to the project when inside it."""
    if source.is_relative_to(ctx.project.working_dir):
        return "./" + source.relative_to(ctx.project.working_dir).as_posix()
    return str(source)


def _config_map(ctx: ConvertContext, plan: VolumePlan, service: Service, volume: ServiceVolume,
                index: int, path: KeyPath, source: Path, shown: str) -> None:
    real = _checked_source(ctx, source, shown, path)
    name = f"{k8s_name(service.name, 50)}-cm{index}"
    inside = None if ctx.options.allow_outside_project else _project(ctx)
    content = read_bind_content(real, inside, _shadowed(service, volume))
    for rel, why in content.skipped:
        ctx.warn(path, f"bind mount {shown}: {rel} is left out of ConfigMap {name}: {why}")
    cm = layout(content, real.name)
    _check_size(ctx, cm.api_size(), cm.apply_size(), cm.sizes, name, shown, path)
    plan.objects.extend(ctx.render("bind-configmap.yaml.j2", name=name, labels=ctx.labels(service),
                                   data=cm.data, binary_data=cm.binary_data))
    source_ref: Obj = {"name": name}
    if cm.items is not None:
        source_ref["items"] = cm.items
    plan.volumes.append({"name": name, "configMap": source_ref})
    mount: Obj = {"name": name, "mountPath": volume.target, "readOnly": True}
    if content.single_file:
        mount["subPath"] = next(iter([*cm.data, *cm.binary_data]))
    plan.mounts.append(mount)
    _warn_config_map(ctx, service, volume, path, content, shown, name)


def _warn_config_map(ctx: ConvertContext, service: Service, volume: ServiceVolume,
                     path: KeyPath, content: BindContent, shown: str, name: str) -> None:
    what = "file" if content.single_file else "folder"
    note = f"ConfigMap {name}: a read-only copy of the {what} taken at conversion time"
    ctx.approximated(path, f"ConfigMap/{name}", note)
    if not content.single_file and _source_code(service, Path(volume.source or "")):
        ctx.warn(path, f"bind mount {shown} -> {volume.target} looks like source code mounted "
                 f"for live editing: its files are shipped in ConfigMap {name}, a read-only "
                 "copy taken at conversion time, so the pods do not see later edits",
                 hint=_dev_hint(service, shown, volume.target))
    elif not volume.read_only:
        ctx.warn(path, f"bind mount {shown} -> {volume.target} becomes {note}; Compose mounted "
                 "it writable, and writes to it fail in the cluster",
                 hint="mount it `:ro` if the service only reads it; keep data the service "
                 "writes in a named volume")


def _source_code(service: Service, source: Path) -> bool:
    """A folder inside the service's build context (or holding it): its own source code."""
    if service.build is None or "://" in service.build.context:
        return False
    context = Path(service.build.context)
    return source.is_relative_to(context) or context.is_relative_to(source)


def _dev_hint(service: Service, shown: str, target: str) -> str:
    syncs = [rule for rule in (service.develop.watch if service.develop else ())
             if rule.action.startswith("sync") and rule.target
             and PurePosixPath(rule.target).is_relative_to(target)]
    if syncs:
        return ("`kompy dev` syncs edits by its develop.watch rules, but cannot write into "
                "this read-only copy: drop the bind mount (the image holds the code)")
    return (f"for live edits declare `develop: {{watch: [{{action: sync, path: {shown}, "
            f"target: {target}}}]}}` and run `kompy dev` (as `docker compose watch`)")


def _shadowed(service: Service, volume: ServiceVolume) -> list[str]:
    """Folders under ``volume``'s target that other mounts of the container cover."""
    base = PurePosixPath(volume.target)
    targets = [v.target for v in service.volumes if v is not volume]
    targets += [entry.partition(":")[0] for entry in service.tmpfs]
    out = []
    for target in targets:
        inner = PurePosixPath(target)
        if inner != base and inner.is_relative_to(base):
            out.append(inner.relative_to(base).as_posix())
    return sorted(set(out))


def _check_size(ctx: ConvertContext, api_size: int, apply_size: int, sizes: dict[str, int],
                name: str, shown: str, path: KeyPath) -> None:
    if api_size > CONFIGMAP_LIMIT:
        raise ConvertError(
            f"bind mount {shown} holds {api_size:,} bytes, more than a ConfigMap can hold "
            f"(1 MiB); the biggest files: {biggest(sizes)}",
            location=ctx.locate(path), key_path=path,
            hint="mount a smaller folder, bake the files into the image, or choose what this "
            "mount becomes with `kompose.volume.type` (x-kompy: {volume: {type: ...}}) or "
            "--volumes")
    if apply_size > APPLY_ANNOTATION_LIMIT:
        ctx.warn(path, f"ConfigMap {name} (bind mount {shown}) weighs about "
                 f"{apply_size // 1024} KiB: `kubectl apply` keeps a copy of each object in an "
                 "annotation limited to 256 KiB, and will refuse it",
                 hint="apply with `kubectl apply --server-side` (or `kubectl create`)")


def _checked_source(ctx: ConvertContext, source: Path, shown: str, path: KeyPath) -> Path:
    real = Path(os.path.realpath(source))
    if not ctx.options.allow_outside_project and not real.is_relative_to(_project(ctx)):
        raise ConvertError(
            f"bind mount source {shown} is outside the project directory {_project(ctx)}",
            location=ctx.locate(path), key_path=path,
            hint="kompy only reads files of the project into ConfigMaps; "
            "pass --allow-outside-project to allow it",
        )
    if not real.exists():
        raise ConvertError(
            f"bind mount source {shown} does not exist; --volumes configMap needs its content",
            location=ctx.locate(path), key_path=path,
            hint="create the file, or use another --volumes mode",
        )
    return real
