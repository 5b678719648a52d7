"""A pod's PersistentVolumeClaim on the host: the claim's bound PersistentVolume, mounted.

* a volume of kompy's provisioner (CSI driver ``kompy.dev/local``) is its Docker named
  volume (``spec.csi.volumeHandle``);
* a ``hostPath`` or ``local`` volume is its host folder, bind-mounted;
* a claim bound by kompy before PersistentVolumes existed (Bound, no ``volumeName``) is the
  Docker volume named after its claim, as it always was.

A claim not yet bound keeps the pod waiting (ContainerCreating), as the scheduler and the
kubelet keep it upstream. So does a claim being deleted (its pvc-protection finalizer holds
it while pods use it) for a pod that did not mount it yet: pods already using it go on using
it, a new one does not start, as upstream's volume manager says ("error processing PVC
ns/name: PVC is being deleted", ``pkg/kubelet/volumemanager/populator``).
https://kubernetes.io/docs/concepts/storage/persistent-volumes/#storage-object-in-use-protection

A ReadWriteOnce volume is attached to one node at a time: a pod on
another node than the pods already using it (the earliest of them holds the volume) is
refused with the attach-detach controller's event, ``FailedAttachVolume: Multi-Attach error
for volume "pvc-..." Volume is already used by pod(s) web-1``.
https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kompy.client.objects import Obj, name, namespace, terminating, uid
from kompy.cluster.kubelet.backend import ContainerBackend

PROVISIONER = "kompy.dev/local"
Lookup = Callable[[str, str], "Obj | None"]
PodLister = Callable[[str], list[Obj]]


def claim_volume(cluster: str, ns: str, claim: str) -> str:
    """The Docker volume of a claim of kompy's provisioner (and of claims bound before)."""
    return f"kompy-{cluster}-{ns}-{claim}"


class ClaimError(Exception):
    """Why a claim cannot be mounted yet, and the event reason that says so."""

    def __init__(self, message: str, reason: str = "FailedMount") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


# (kind, path or Docker volume name, read-only)
Mounted = tuple[str, str, bool]


class ClaimMounts:
    def __init__(self, backend: ContainerBackend, claims: Lookup, volumes: Lookup | None = None,
                 pods: PodLister | None = None) -> None:
        self.backend = backend
        self.claims = claims
        self.volumes = volumes
        self.pods = pods
        self._mounted: set[tuple[str, str]] = set()  # (pod uid, claim name) mounted once
        self._lock = threading.Lock()  # pods are synced on several threads

    def source(self, pod: Obj, src: dict[str, Any]) -> Mounted:
        ns = namespace(pod)
        claim_name = str(src.get("claimName"))
        read_only = bool(src.get("readOnly"))
        claim = self.claims(ns, claim_name)
        if claim is None:
            raise ClaimError(f'persistentvolumeclaim "{claim_name}" not found')
        if terminating(claim) and not self._using(pod, claim_name):
            raise ClaimError(f"error processing PVC {ns}/{claim_name}: PVC is being deleted")
        mounted = self._mount(pod, claim_name, claim, read_only)
        with self._lock:
            self._mounted.add((uid(pod), claim_name))
        return mounted

    def forget(self, pod_uid: str) -> None:
        with self._lock:
            self._mounted = {held for held in self._mounted if held[0] != pod_uid}

    def _using(self, pod: Obj, claim_name: str) -> bool:
        """Whether the pod uses the claim already: mounted by this kubelet, or (after a
        daemon restart) the pod has containers, which were made with it."""
        with self._lock:
            if (uid(pod), claim_name) in self._mounted:
                return True
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return any(cs.get("containerID") for cs in statuses)

    def _mount(self, pod: Obj, claim_name: str, claim: Obj, read_only: bool) -> Mounted:
        ns = namespace(pod)
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name:
            if (claim.get("status") or {}).get("phase") == "Bound":
                return "volume", self._docker_volume(ns, claim_name), read_only
            raise ClaimError(f'persistentvolumeclaim "{claim_name}" is not bound')
        volume = self.volumes("", str(volume_name)) if self.volumes else None
        if volume is None:
            raise ClaimError(f'persistentvolume "{volume_name}" not found')
        spec = volume.get("spec") or {}
        if (spec.get("csi") or {}).get("driver") == PROVISIONER:
            self._check_attach(pod, claim_name, volume)
            handle = str(spec["csi"].get("volumeHandle") or "")
            return "volume", self._docker_volume(ns, claim_name, handle), read_only
        if "hostPath" in spec:
            return "bind", host_path(spec["hostPath"] or {}), read_only
        if "local" in spec:
            path = str((spec["local"] or {}).get("path") or "")
            if not os.path.isdir(path):
                raise ClaimError(f'persistentvolume "{volume_name}": local path {path} does '
                                 "not exist")
            return "bind", path, read_only
        raise ClaimError(f'persistentvolume "{volume_name}": this kind of volume is not '
                         "supported by kompy's built-in cluster (use the kompy-local "
                         "StorageClass, hostPath or local volumes)")

    def _docker_volume(self, ns: str, claim_name: str, handle: str = "") -> str:
        vname = handle or claim_volume(self.backend.cluster, ns, claim_name)
        labels = self.backend.labels(ns, f"PersistentVolumeClaim/{claim_name}",
                                     **{"kompy.volume-kind": "pvc"})
        self.backend.ensure_volume(vname, labels)
        return vname

    def _check_attach(self, pod: Obj, claim_name: str, volume: Obj) -> None:
        modes = (volume.get("spec") or {}).get("accessModes") or []
        node = (pod.get("spec") or {}).get("nodeName")
        if "ReadWriteOnce" not in modes or not node or self.pods is None:
            return
        holders = [other for other in self.pods(namespace(pod))
                   if _uses(other, claim_name) and uid(other) != uid(pod)
                   and not terminating(other)
                   and (other.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                   and (other.get("spec") or {}).get("nodeName") not in (None, "", node)
                   and _order(other) < _order(pod)]
        if holders:
            names = ", ".join(sorted(name(p) for p in holders))
            raise ClaimError(f'Multi-Attach error for volume "{name(volume)}" Volume is '
                             f"already used by pod(s) {names}", reason="FailedAttachVolume")


def _uses(pod: Obj, claim_name: str) -> bool:
    return any(isinstance(v, dict) and (v.get("persistentVolumeClaim") or {}).get(
        "claimName") == claim_name for v in (pod.get("spec") or {}).get("volumes") or [])


def _order(pod: Obj) -> tuple[str, str]:
    """Which pod came first: the volume is attached for the earliest one."""
    return str((pod.get("metadata") or {}).get("creationTimestamp") or ""), name(pod)


def host_path(src: dict[str, Any]) -> str:
    """A hostPath's folder or file, made when its ``type`` asks for it."""
    path = str(src.get("path"))
    kind = src.get("type") or ""
    if kind == "DirectoryOrCreate":
        os.makedirs(path, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        Path(path).touch()
    elif kind and not os.path.exists(path):
        raise ClaimError(f"hostPath {path} does not exist (type {kind})")
    return path


__all__ = ["PROVISIONER", "ClaimError", "ClaimMounts", "claim_volume", "host_path"]
