"""Storage object in-use protection: kube-controller-manager's pvc-protection and
pv-protection controllers.

The API server puts ``kubernetes.io/pvc-protection`` on every new claim and
``kubernetes.io/pv-protection`` on every new volume (the StorageObjectInUseProtection
admission plugin, kompy/cluster/apiserver/storage.py); these controllers add them to older
objects that lack them and take them off a deleted object once nothing uses it, which lets
the deletion finish:

- a claim is in use while a pod that names it exists and is scheduled (a pod that has
  finished counts too, until it is deleted: kubectl shows the claim ``Terminating`` then);
- a volume is in use while it is Bound to a claim.

https://kubernetes.io/docs/concepts/storage/persistent-volumes/#storage-object-in-use-protection
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import cast

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, meta, name, namespace, terminating
from kompy.cluster.controllers.base import Controller
from kompy.cluster.controllers.persistentvolume import claims_of

PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
CLAIMS = "persistentvolumeclaims"
VOLUMES = "persistentvolumes"


def pod_uses_claim(pod: Obj, claim: str) -> bool:
    """Upstream's rule: only a scheduled pod counts (the kubelet starts no pod whose claim is
    being deleted, and the scheduler places none), whatever its phase."""
    return bool((pod.get("spec") or {}).get("nodeName")) and claim in claims_of(pod)


def volume_in_use(volume: Obj) -> bool:
    return (volume.get("status") or {}).get("phase") == "Bound"


class StorageProtectionController(Controller):
    name = "storage-protection"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.claims = informers[CLAIMS]
        self.volumes = informers[VOLUMES]
        self.pods = informers["pods"]
        self.claims.add_handler(lambda c, _d: self.queue.add((CLAIMS, namespace(c), name(c))))
        self.volumes.add_handler(lambda v, _d: self.queue.add((VOLUMES, "", name(v))))
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        """A pod that goes may free a claim being deleted."""
        for claim in claims_of(pod):
            found = self.claims.get(namespace(pod), claim)
            if found is not None and terminating(found):
                self.queue.add((CLAIMS, namespace(pod), claim))

    def sync(self, key: Hashable) -> None:
        resource, ns, obj_name = cast(tuple[str, str, str], key)
        obj = (self.claims if resource == CLAIMS else self.volumes).get(ns, obj_name)
        if obj is None:
            return
        finalizer = PVC_PROTECTION if resource == CLAIMS else PV_PROTECTION
        finalizers = list(meta(obj).get("finalizers") or [])
        if not terminating(obj):
            if finalizer not in finalizers:
                self._write(resource, obj, [*finalizers, finalizer])
            return
        if finalizer not in finalizers or self._in_use(resource, obj):
            return
        self._write(resource, obj, [f for f in finalizers if f != finalizer])

    def _in_use(self, resource: str, obj: Obj) -> bool:
        if resource == VOLUMES:
            return volume_in_use(obj)
        claim, ns = name(obj), namespace(obj)
        if any(pod_uses_claim(p, claim) for p in self.pods.list(ns)):
            return True
        # The informer may lag a pod created a moment ago: ask the API server, as upstream's
        # controller does before letting the claim go.
        pods = self.client.list("pods", ns).get("items") or []
        return any(pod_uses_claim(p, claim) for p in pods)

    def _write(self, resource: str, obj: Obj, finalizers: list[str]) -> None:
        """The whole list, over the version it was read from (a Conflict retries)."""
        patch = {"metadata": {"finalizers": finalizers or None,
                              "resourceVersion": meta(obj).get("resourceVersion")}}
        try:
            updated = self.client.patch(resource, name(obj), namespace(obj) or None, patch)
        except NotFound:
            return
        informer = self.claims if resource == CLAIMS else self.volumes
        informer.upsert_local(updated)
