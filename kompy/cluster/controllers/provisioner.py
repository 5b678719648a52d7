"""kompy's own volume provisioner, ``kompy.dev/local``: the default StorageClass
``kompy-local`` makes a Docker named volume per claim.

The volume is named after cluster, namespace and claim (``kompy-<cluster>-<namespace>-
<claim>``), as claims' volumes always were, and labelled with the claim's namespace: so a
claim made again under the same name finds its data again (``kompy down`` keeps volumes,
``kompy up`` brings the project back, as ``docker compose down``/``up`` do), and
``kompy down --volumes`` or ``kompy cluster reset`` remove them. Its PersistentVolume names
it as a CSI volume of driver ``kompy.dev/local`` (``spec.csi.volumeHandle``), which the
kubelet mounts. The StorageClass is made by the API server at start
(:mod:`kompy.cluster.apiserver.storage`).
"""

from __future__ import annotations

from kompy.client.objects import Obj, name, namespace
from kompy.cluster.kubelet.backend import ContainerBackend
from kompy.cluster.kubelet.claims import PROVISIONER, claim_volume


class Provisioner:
    def __init__(self, backend: ContainerBackend) -> None:
        self.backend = backend

    def create(self, claim: Obj) -> str:
        """Make (or find) the claim's Docker volume; its name is the volume handle."""
        ns, claim_name = namespace(claim), name(claim)
        handle = claim_volume(self.backend.cluster, ns, claim_name)
        labels = self.backend.labels(ns, f"PersistentVolumeClaim/{claim_name}",
                                     **{"kompy.volume-kind": "pvc"})
        self.backend.ensure_volume(handle, labels)
        return handle

    def owns(self, volume: Obj) -> bool:
        csi = (volume.get("spec") or {}).get("csi") or {}
        return csi.get("driver") == PROVISIONER and bool(csi.get("volumeHandle"))

    def delete(self, volume: Obj) -> None:
        """Remove the Docker volume (an engine error, such as a volume still in use, is
        raised: the controller tries again later)."""
        handle = str(((volume.get("spec") or {}).get("csi") or {}).get("volumeHandle"))
        self.backend.remove_volume(handle)


__all__ = ["PROVISIONER", "Provisioner"]
