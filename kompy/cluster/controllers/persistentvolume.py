"""The PersistentVolume controller: binds claims to volumes, provisions volumes for claims of
a StorageClass, expands them, and reclaims volumes whose claims are gone, as
kube-controller-manager's persistentvolume-binder and expander with an external provisioner.

* A claim with a matching volume (:mod:`.volumebinding`: pre-bound first, else the smallest
  that fits) is bound to it: the volume's ``spec.claimRef`` and phase Bound, the claim's
  ``spec.volumeName`` and status (phase, capacity, access modes).
* Else a claim of a class whose provisioner is kompy's own (``kompy.dev/local``, the
  default class ``kompy-local``) gets a new volume ``pvc-<claim uid>``, a Docker volume on
  the engine (:mod:`.provisioner`); a class with ``volumeBindingMode: WaitForFirstConsumer``
  waits for the scheduler to write the node it chose for a pod that uses the claim in the
  claim's ``volume.kubernetes.io/selected-node`` annotation (its VolumeBinding PreBind,
  which then waits for the claim to be bound before it binds the pod); a pod that named its
  node itself, skipping the scheduler, has its node written there by this controller. Other
  provisioners are someone else's: the claim waits, with upstream's ExternalProvisioning
  event.
* A claim that asks for more than its volume holds, in a class with
  ``allowVolumeExpansion``, has its volume's capacity and its own status raised (Docker's
  volumes have no size to change; the numbers are what a user sees).
* A volume whose claim is gone is Released; ``persistentVolumeReclaimPolicy: Delete``
  removes it (and its Docker volume, when kompy made it), Retain keeps it Released.

Claims bound by kompy before there were PersistentVolumes (phase Bound, no volumeName) get a
volume on the Docker volume they already use. https://kubernetes.io/docs/concepts/storage/
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace, terminating, uid
from kompy.cluster.controllers import volumebinding as binding
from kompy.cluster.controllers.base import Controller
from kompy.cluster.controllers.provisioner import PROVISIONER, Provisioner

log = logging.getLogger(__name__)

SELECTED_NODE = "volume.kubernetes.io/selected-node"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 provisioner: Provisioner) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.provisioner = provisioner
        self.claims = informers["persistentvolumeclaims"]
        self.volumes = informers["persistentvolumes"]
        self.classes = informers["storageclasses"]
        self.pods = informers["pods"]
        self.claims.add_handler(self._on_claim)
        self.volumes.add_handler(self._on_volume)
        self.pods.add_handler(self._on_pod)
        self.classes.add_handler(lambda _obj, _d: self._requeue_pending())

    # -- events -------------------------------------------------------------------------------

    def _on_claim(self, claim: Obj, deleted: bool) -> None:
        self.queue.add(("claim", namespace(claim), name(claim)))
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if deleted and volume_name:
            self.queue.add(("volume", "", str(volume_name)))   # to be reclaimed

    def _on_volume(self, volume: Obj, deleted: bool) -> None:
        self.queue.add(("volume", "", name(volume)))
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(("claim", str(ref.get("namespace") or ""), str(ref["name"])))
        if not deleted:
            self._requeue_pending()   # a new volume may be what a waiting claim needs

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        """A pod that names its node itself (the scheduler never saw it) is the first consumer
        a WaitForFirstConsumer claim waits for; the scheduler's pods come annotated."""
        if deleted or not (pod.get("spec") or {}).get("nodeName"):
            return
        for claim_name in claims_of(pod):
            self.queue.add(("claim", namespace(pod), claim_name))

    def _requeue_pending(self) -> None:
        for claim in self.claims.list():
            if not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add(("claim", namespace(claim), name(claim)))

    def sync(self, key: Hashable) -> None:
        kind, ns, obj_name = cast(tuple[str, str, str], key)
        if kind == "claim":
            claim = self.claims.get(ns, obj_name)
            if claim is not None and not terminating(claim):
                self._sync_claim(claim)
        else:
            volume = self.volumes.get("", obj_name)
            if volume is not None:
                self._sync_volume(volume)

    # -- claims -------------------------------------------------------------------------------

    def _sync_claim(self, claim: Obj) -> None:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = self.volumes.get("", str(volume_name))
            if volume is None:
                self._lost(claim)
            else:
                self._complete_binding(claim, volume)
                self._expand(claim, volume)
            return
        found = binding.best_volume(claim, self.volumes.list())
        klass = binding.claim_class(claim)
        storage_class = self.classes.get("", klass) if klass else None
        if storage_class is not None and _waits_for_consumer(storage_class) and \
                not self._consumer_node(claim):
            self.recorder.normal(claim, "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding")
            return
        if found is not None:
            self._bind(claim, found)
            return
        self._provision_or_wait(claim, klass, storage_class)

    def _provision_or_wait(self, claim: Obj, klass: str, storage_class: Obj | None) -> None:
        if _is_legacy(claim):
            self._bind(claim, self._provision(claim, None, legacy=True))
            return
        if not klass:
            self.recorder.normal(claim, "FailedBinding", "no persistent volumes available for "
                                                         "this claim and no storage class is set")
            return
        if storage_class is None:
            self.recorder.warning(claim, "ProvisioningFailed",
                                  f'storageclass.storage.k8s.io "{klass}" not found')
            return
        provisioner = str(storage_class.get("provisioner") or "")
        if provisioner != PROVISIONER:
            self.recorder.normal(claim, "ExternalProvisioning",
                                 f"Waiting for a volume to be created either by the external "
                                 f"provisioner '{provisioner}' or manually by the system "
                                 "administrator. If volume creation is delayed, please verify "
                                 "that the provisioner is running and correctly registered.")
            return
        if (claim.get("spec") or {}).get("selector"):
            self.recorder.warning(claim, "ProvisioningFailed",
                                  "claim Selector is not supported")
            return
        self.recorder.normal(claim, "Provisioning", f"External provisioner is provisioning "
                                                    f'volume for claim "{namespace(claim)}/'
                                                    f'{name(claim)}"')
        volume = self._provision(claim, storage_class)
        self.recorder.normal(claim, "ProvisioningSucceeded",
                             f"Successfully provisioned volume {name(volume)}")
        self._bind(claim, volume)

    def _consumer_node(self, claim: Obj) -> str:
        """The node of the first scheduled pod that uses the claim (recorded on the claim as
        the scheduler's selected-node annotation)."""
        annotations = (claim.get("metadata") or {}).get("annotations") or {}
        if annotations.get(SELECTED_NODE):
            return str(annotations[SELECTED_NODE])
        for pod in self.pods.list(namespace(claim)):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and name(claim) in claims_of(pod) and not terminating(pod):
                updated = self.client.patch("persistentvolumeclaims", name(claim),
                                            namespace(claim), {"metadata": {"annotations": {
                                                SELECTED_NODE: str(node)}}})
                self.claims.upsert_local(updated)
                return str(node)
        return ""

    def _provision(self, claim: Obj, storage_class: Obj | None, legacy: bool = False) -> Obj:
        handle = self.provisioner.create(claim)
        spec = claim.get("spec") or {}
        klass = storage_class or {}
        volume: Obj = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"pvc-{uid(claim)}", "annotations": {PROVISIONED_BY:
                                                                      PROVISIONER}},
            "spec": {
                "capacity": {"storage": str(binding.requested(claim)) if binding.requested(
                    claim).value else "1Gi"},
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": "Retain" if legacy else str(
                    klass.get("reclaimPolicy") or "Delete"),
                "storageClassName": binding.claim_class(claim),
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "csi": {"driver": PROVISIONER, "volumeHandle": handle},
                "claimRef": _claim_ref(claim),
            }}
        mount_options = klass.get("mountOptions")
        if mount_options:
            volume["spec"]["mountOptions"] = list(mount_options)
        try:
            created = self.client.create(volume)
        except Conflict:
            log.info("volume %s exists already; using it", name(volume))
            created = self.client.get("persistentvolumes", name(volume))
        self.volumes.upsert_local(created)
        return created

    def _bind(self, claim: Obj, volume: Obj) -> None:
        """The volume's claimRef first, then the claim's volumeName, then both statuses (the
        order upstream's bind() keeps, so a crash in between is finished by the next sync)."""
        spec = volume.get("spec") or {}
        if not binding.prebound_to(volume, claim) or not (spec.get("claimRef") or {}).get("uid"):
            volume = self.client.patch("persistentvolumes", name(volume), None, {
                "metadata": {"annotations": {BOUND_BY_CONTROLLER: "yes"}},
                "spec": {"claimRef": _claim_ref(claim)}})
            self.volumes.upsert_local(volume)
        self._set_volume_phase(volume, "Bound")
        annotations = {BIND_COMPLETED: "yes", BOUND_BY_CONTROLLER: "yes"}
        provisioned_by = ((volume.get("metadata") or {}).get("annotations") or {}).get(
            PROVISIONED_BY)
        if provisioned_by:
            annotations.update({STORAGE_PROVISIONER: provisioned_by,
                                BETA_STORAGE_PROVISIONER: provisioned_by})
        claim = self.client.patch("persistentvolumeclaims", name(claim), namespace(claim), {
            "metadata": {"annotations": annotations}, "spec": {"volumeName": name(volume)}})
        self.claims.upsert_local(claim)
        self._complete_binding(claim, volume)

    def _complete_binding(self, claim: Obj, volume: Obj) -> None:
        if not binding.prebound_to(volume, claim):
            return   # the volume went to another claim meanwhile: upstream waits too
        self._set_volume_phase(volume, "Bound")
        vspec = volume.get("spec") or {}
        status = dict(claim.get("status") or {})
        wanted = {"phase": "Bound", "accessModes": list(vspec.get("accessModes") or []),
                  "capacity": dict(vspec.get("capacity") or {})}
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        self.claims.upsert_local(self.client.replace_status({**claim, "status": status}))

    def _lost(self, claim: Obj) -> None:
        status = dict(claim.get("status") or {})
        if status.get("phase") == "Lost":
            return
        self.recorder.warning(claim, "ClaimLost", "Bound claim has lost its PersistentVolume. "
                                                  "Data on the volume is lost!")
        status["phase"] = "Lost"
        self.claims.upsert_local(self.client.replace_status({**claim, "status": status}))

    def _expand(self, claim: Obj, volume: Obj) -> None:
        wanted = binding.requested(claim)
        if wanted <= binding.capacity(volume):
            return
        klass = self.classes.get("", binding.claim_class(claim))
        if klass is None or not klass.get("allowVolumeExpansion"):
            return   # admission refuses such a resize; a claim written before stays as is
        size = str(wanted)
        self.recorder.normal(claim, "Resizing", f"External resizer is resizing volume "
                                                f"{name(volume)}")
        volume = self.client.patch("persistentvolumes", name(volume), None,
                                   {"spec": {"capacity": {"storage": size}}})
        self.volumes.upsert_local(volume)
        status = dict(claim.get("status") or {})
        status["capacity"] = {**(status.get("capacity") or {}), "storage": size}
        status["allocatedResources"] = {"storage": size}
        self.claims.upsert_local(self.client.replace_status({**claim, "status": status}))
        self.recorder.normal(claim, "VolumeResizeSuccessful",
                             f'resize volume "{name(volume)}" by resizer "{PROVISIONER}" '
                             "finished successfully")

    # -- volumes ------------------------------------------------------------------------------

    def _sync_volume(self, volume: Obj) -> None:
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if not ref:
            self._set_volume_phase(volume, "Available")
            return
        claim = self.claims.get(str(ref.get("namespace") or ""), str(ref.get("name") or ""))
        if claim is None and ref.get("uid"):
            with contextlib.suppress(NotFound):   # the cache may lag a new claim
                claim = self.client.get("persistentvolumeclaims", str(ref.get("name")),
                                        str(ref.get("namespace") or ""))
        if claim is not None and (not ref.get("uid") or uid(claim) == ref.get("uid")):
            if (claim.get("spec") or {}).get("volumeName") == name(volume):
                self._set_volume_phase(volume, "Bound")
            elif not ref.get("uid"):
                self._set_volume_phase(volume, "Available")   # pre-bound, waiting for it
            return
        if not ref.get("uid"):
            self._set_volume_phase(volume, "Available")
            return
        self._reclaim(volume)

    def _reclaim(self, volume: Obj) -> None:
        """The claim is gone: Released, then deleted or kept by the reclaim policy."""
        phase = (volume.get("status") or {}).get("phase")
        if phase != "Released" and phase != "Failed":
            volume = self._set_volume_phase(volume, "Released")
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy != "Delete" or phase == "Failed":
            return
        if self.provisioner.owns(volume):
            self.provisioner.delete(volume)
            left: Obj | None = None
            with contextlib.suppress(NotFound):
                left = self.client.delete("persistentvolumes", name(volume))
            if left is None:   # else Terminating: pv-protection lets it go, as it is Released
                self.volumes.remove_local(volume)
            return
        message = "error getting deleter volume plugin for volume " \
                  f'"{name(volume)}": no deletable volume plugin matched'
        self.recorder.warning(volume, "VolumeFailedDelete", message)
        self._set_volume_phase(volume, "Failed", message)

    def _set_volume_phase(self, volume: Obj, phase: str, message: str = "") -> Obj:
        status = dict(volume.get("status") or {})
        if status.get("phase") == phase:
            return volume
        status["phase"] = phase
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        try:
            updated = self.client.replace_status({**volume, "status": status})
        except NotFound:
            return volume
        self.volumes.upsert_local(updated)
        return updated


def claims_of(pod: Obj) -> list[str]:
    return [str(v["persistentVolumeClaim"].get("claimName"))
            for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)]


def _claim_ref(claim: Obj) -> dict[str, Any]:
    meta = claim.get("metadata") or {}
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta.get(
        "namespace"), "name": meta.get("name"), "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion")}


def _waits_for_consumer(storage_class: Obj) -> bool:
    return storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"


def _is_legacy(claim: Obj) -> bool:
    """Bound by kompy before PersistentVolumes existed: phase Bound without a volume."""
    return (claim.get("status") or {}).get("phase") == "Bound" and not (
        claim.get("spec") or {}).get("volumeName")


__all__ = ["PersistentVolumeController", "claims_of"]
