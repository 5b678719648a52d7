"""Who owns the files of a pod's ConfigMap, Secret and projected volumes, and their modes.

Kubernetes writes them as root, with ``defaultMode`` (0644) or an item's ``mode``; with
``fsGroup`` it gives them to that group and adds group read (``SetVolumeOwnership``: files
``| 0440``, folders ``| 0550`` and setgid, for these read-only volumes), and it adds
``fsGroup`` to every container's groups. So on a real cluster a container running as a
non-root user reads such files through the world-read bit of 0644, or through ``fsGroup``.
https://kubernetes.io/docs/concepts/storage/volumes/#secret,
https://kubernetes.io/docs/tasks/configure-pod-container/security-context/

kompy promises that secrets sit in 0600 files, which a root-owned file would close to a
non-root reader. So kompy gives the files to the user that reads them: the ``runAsUser`` of
the containers that mount the volume, else the USER of their image (a uid; a user *name*
would need the image's /etc/passwd, and counts as root), else root. Secret files are then
0600 and readable by their reader as on Kubernetes, and by nobody else; with ``fsGroup`` they
are group-readable by it (0640), as upstream makes them. When containers of different users
mount one volume, no single owner serves them all: the files are root's and group-readable
by a group they share (``fsGroup``, else a common ``runAsGroup``), else world-readable as
upstream's 0644 default (the state folder, 0700, still keeps other users of the machine
out). An explicit ``defaultMode``/``mode`` is applied as written, to files owned as above.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kompy.client.objects import Obj

# The USER an image runs as ("" for root, "1000", "1000:1000", "app"...), by image reference.
ImageUser = Callable[[str], str]

# SetVolumeOwnership's masks for a read-only volume, added with fsGroup.
GROUP_READ_FILE = 0o440
GROUP_READ_DIR = 0o550 | 0o2000  # and setgid, so new files keep the group


@dataclass(frozen=True)
class Ownership:
    uid: int
    gid: int
    group_read: bool = False  # add the group's read bits (fsGroup, or a shared group)
    world_read: bool = False  # readers share no group: files are readable by all, as 0644

    def file_mode(self, mode: int) -> int:
        if self.world_read:
            return mode | 0o444
        return mode | GROUP_READ_FILE if self.group_read else mode

    def dir_mode(self, mode: int) -> int:
        if self.world_read:
            return mode | 0o555
        return mode | GROUP_READ_DIR if self.group_read else mode


def _image_ids(user: str) -> tuple[int | None, int | None]:
    """(uid, gid) of an image's USER when it gives numbers; None for a name."""
    name, _, group = user.partition(":")
    uid = int(name) if name.isdigit() else (0 if not name else None)
    gid = int(group) if group.isdigit() else None
    return uid, gid


def readers(pod: Obj, volume: str, image_user: ImageUser) -> list[tuple[int, int | None]]:
    """(uid, gid) of each container (init or app) that mounts ``volume``."""
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    out = []
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not any(m.get("name") == volume for m in c.get("volumeMounts") or []):
            continue
        csc = c.get("securityContext") or {}
        uid: Any = csc.get("runAsUser", psc.get("runAsUser"))
        gid: Any = csc.get("runAsGroup", psc.get("runAsGroup"))
        if uid is None:
            image_uid, image_gid = _image_ids(image_user(str(c.get("image") or "")))
            uid = image_uid if image_uid is not None else 0
            gid = gid if gid is not None else image_gid
        out.append((int(uid), None if gid is None else int(gid)))
    return out


def ownership(pod: Obj, volume: str, image_user: ImageUser) -> Ownership | None:
    """Who gets the files of ``volume`` (None: leave them to the daemon's user, which
    cannot give files away unless it is root)."""
    if os.geteuid() != 0:
        return None
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    fs_group = psc.get("fsGroup")
    found = readers(pod, volume, image_user)
    uids = {uid for uid, _ in found}
    if len(uids) <= 1:
        uid = next(iter(uids), 0)
        gid = next((g for _, g in found if g is not None), uid)
        if fs_group is not None:
            return Ownership(uid, int(fs_group), group_read=True)
        return Ownership(uid, gid)
    if fs_group is not None:
        return Ownership(0, int(fs_group), group_read=True)
    gids = {gid for _, gid in found}
    common = next(iter(gids))
    if len(gids) == 1 and common is not None:
        return Ownership(0, common, group_read=True)
    return Ownership(0, 0, world_read=True)
