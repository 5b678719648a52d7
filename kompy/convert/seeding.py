"""Docker's volume initialisation, as init containers: a new volume starts with the image's
files (issue #9, "volumes sane").

When Docker mounts an empty volume (named or anonymous) on a path where the image has files,
it copies them in, with the ownership and mode of that folder, unless the mount says
``nocopy`` (https://docs.docker.com/engine/storage/volumes/#populate-a-volume-using-a-container;
moby ``CopyImagePathContent``). Projects rely on it: the ``node_modules`` pattern
(``./app:/app`` plus an anonymous ``/app/node_modules``, whose content comes from the image),
and images running as a user whose data folder only that user may write (prometheus'
``/prometheus`` belongs to ``nobody``). Kubernetes never copies: an emptyDir or a new claim
is an empty root-owned folder, and on block storage (GKE, EKS, AKS disks) a new claim holds
ext4's ``lost+found``, which makes ``postgres`` refuse its data folder ("exists but is not
empty"). Docker's volumes never hold one.

So each named or anonymous volume a service mounts gets an init container that does what
Docker does, once: run in the service's own image (which holds the files), with the volume
mounted at ``/kompy-volume``; when the volume holds nothing but an empty ``lost+found``,
remove that and copy the image's folder into it with its ownership and mode. The image may
have no shell at all (``FROM scratch``, distroless), so the commands come from a statically
linked busybox that a first init container copies out of the helper image (``--wait-image``,
whose ``/bin/busybox`` must be static: ``busybox:*-musl`` and ``*-uclibc`` are, the default
glibc variant is not). The copy runs as root, as Docker's daemon does; under
``--security restricted`` it runs as the container's user and leaves ownership alone.
``--no-volume-init`` and Compose's ``volume: {nocopy: true}`` turn it off.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.security import wait_container_security
from kompy.convert.specs import ContainerSpec, PodSpec

if TYPE_CHECKING:
    from kompy.client.objects import Obj

TOOLS_VOLUME = "kompy-tools"
TOOLS_PATH = "/kompy-tools"
SEED_PATH = "/kompy-volume"
BUSYBOX = f"{TOOLS_PATH}/busybox"


@dataclass(frozen=True)
class Seed:
    """A volume mount of a container that Docker would fill from the image."""

    mount: Obj  # the container's volumeMount: name, mountPath, subPath?
    target: str  # the path in the image whose files fill the volume


def seed_script(target: str, restricted: bool = False) -> str:
    """The shell script of a seed container (busybox ash, every command through busybox:
    the image may have none of its own)."""
    folder = shlex.quote(target.rstrip("/") or "/")
    lines = [
        "# kompy: fill a new volume from the image, as Docker does",
        "set -e",
        f"b={BUSYBOX} v={SEED_PATH} t={folder}",
        # Docker fills a volume only while it is empty; ext4's lost+found does not count.
        'for f in $($b ls -A $v); do [ "$f" = lost+found ] || exit 0; done',
        "$b rmdir $v/lost+found 2>/dev/null || true",
        '[ -d "$t" ] || exit 0',
        '$b cp -a "$t/." $v/',
    ]
    if not restricted:
        lines += ['$b chown "$($b stat -c %u:%g "$t")" $v',
                  '$b chmod "$($b stat -c %a "$t")" $v']
    return "\n".join(lines) + "\n"


def add_seed_containers(ctx: ConvertContext, pod: PodSpec,
                        seeds: list[tuple[ContainerSpec, Seed]]) -> None:
    """Put the tools container and one seed container per volume (the first container that
    mounts it: Docker fills a volume when its first container is created) in front of the
    pod's init containers."""
    if not seeds or not ctx.options.volume_init:
        return
    restricted = ctx.options.security == "restricted"
    out: list[ContainerSpec] = []
    seen: set[str] = set()
    for container, seed in seeds:
        volume = str(seed.mount["name"])
        if volume in seen:
            continue
        seen.add(volume)
        mount: Obj = {"name": volume, "mountPath": SEED_PATH}
        if seed.mount.get("subPath"):
            mount["subPath"] = seed.mount["subPath"]
        out.append(ContainerSpec(
            name=k8s_name(f"seed-{volume}"),
            image=container.image,
            image_pull_policy=container.image_pull_policy,
            command=[BUSYBOX, "sh", "-c", seed_script(seed.target, restricted)],
            security_context=_seed_security(container, restricted),
            volume_mounts=[{"name": TOOLS_VOLUME, "mountPath": TOOLS_PATH, "readOnly": True},
                           mount],
            service=container.service,
        ))
    tools = ContainerSpec(
        name=TOOLS_VOLUME, image=ctx.options.wait_image,
        command=["/bin/busybox", "cp", "/bin/busybox", BUSYBOX],
        security_context=wait_container_security(),
        volume_mounts=[{"name": TOOLS_VOLUME, "mountPath": TOOLS_PATH}],
        service=out[0].service)
    pod.init_containers[:0] = [tools, *out]
    pod.volumes.append({"name": TOOLS_VOLUME, "emptyDir": {}})


def _seed_security(container: ContainerSpec, restricted: bool) -> Obj:
    if not restricted:
        # As Docker's daemon: read every file of the image, give the volume its owner.
        return {"runAsUser": 0, "runAsGroup": 0}
    own = container.security_context or {}
    out: Obj = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "runAsNonRoot": True}
    for key in ("runAsUser", "runAsGroup"):
        if key in own:
            out[key] = own[key]
    return out
