"""Warnings for hostPath volumes that hand the machine to a pod.

The built-in cluster runs pods as Docker containers of the user who runs it, and mounts a
hostPath as Docker mounts a bind mount: read-write unless ``readOnly``. So a pod that
mounts ``/``, the Docker socket, or the cluster's own state folder (its store and API token)
controls the machine or the cluster, exactly as ``docker run -v /:/host`` would. Kubernetes
allows it too (Pod Security "baseline" forbids hostPath); kompy allows it and says so, in
the ``Warning`` header that kubectl prints (docs/cluster.md, "Trust model").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kompy.client.objects import Obj

# Where each workload kind keeps its pod spec.
_POD_SPEC = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"), "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def docker_sockets() -> list[str]:
    """The Docker engine's socket: DOCKER_HOST's when it names one, and the usual places."""
    found = ["/var/run/docker.sock", "/run/docker.sock"]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        found.insert(0, host[len("unix://"):])
    return found


def _real(path: str) -> str:
    return os.path.realpath(path)


def _covers(mounted: str, protected: str) -> bool:
    """Whether mounting ``mounted`` exposes ``protected`` (the same path or inside it)."""
    return protected == mounted or protected.startswith(mounted.rstrip("/") + "/")


def warnings(kind: str, obj: Obj, state_dir: Path | None) -> list[str]:
    """One warning per hostPath volume of the object's pod spec that exposes the machine."""
    spec: Any = obj
    for key in _POD_SPEC.get(kind, ()):
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("volumes"), list):
        return []
    where = ".".join(_POD_SPEC[kind])
    protected: list[tuple[str, str]] = [
        ("/", "the host's whole file system: its containers are root on this machine"),
        *((_real(sock), f"the Docker socket ({sock}): its containers can start privileged "
                        "containers, that is, they are root on this machine")
          for sock in docker_sockets()),
    ]
    if state_dir is not None:
        protected.append((_real(str(state_dir)), f"the cluster's state folder ({state_dir}: "
                                                 "its store and API token): its containers "
                                                 "control the cluster"))
    out: list[str] = []
    for index, volume in enumerate(spec["volumes"]):
        host = volume.get("hostPath") if isinstance(volume, dict) else None
        path = host.get("path") if isinstance(host, dict) else None
        if not isinstance(path, str) or not path.startswith("/"):
            continue
        mounted = _real(path)
        for target, what in protected:
            if _covers(mounted, target):
                out.append(f"{where}.volumes[{index}].hostPath: {path!r} gives the pod "
                           f"{what}")
                break
    return out
