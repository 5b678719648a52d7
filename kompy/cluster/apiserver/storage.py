"""Storage's admission and the default StorageClass, as kube-apiserver does them.

* DefaultStorageClass: a new claim that names no class (no ``spec.storageClassName``, no
  beta annotation) gets the default class, the newest StorageClass annotated
  ``storageclass.kubernetes.io/is-default-class: "true"``.
* A claim's update: its spec is immutable but for ``resources.requests`` of a bound claim
  (and what the PersistentVolume controller fills in: ``volumeName``, a class once none);
  a re-applied manifest that leaves those out keeps them. A larger storage request needs a
  bound claim of a class with ``allowVolumeExpansion`` (PersistentVolumeClaimResize); a
  smaller one is refused.
* StorageObjectInUseProtection: every new claim gets the finalizer
  ``kubernetes.io/pvc-protection``, every new volume ``kubernetes.io/pv-protection``.
* ``kompy-local``, kompy's default class (provisioner ``kompy.dev/local``, Delete,
  Immediate, expandable), is made at start unless another default class exists.
https://kubernetes.io/docs/concepts/storage/storage-classes/#default-storageclass
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from kompy.client import resources
from kompy.client.errors import Conflict
from kompy.client.objects import Obj, copy_json
from kompy.client.resources import Resource
from kompy.client.wellknown import DEFAULT_CLASS_ANNOTATIONS
from kompy.cluster.apiserver.admission import invalid
from kompy.cluster.apiserver.quota import forbidden
from kompy.cluster.apiserver.schemas import FieldError
from kompy.cluster.controllers import volumebinding as binding
from kompy.cluster.kubelet.claims import PROVISIONER

STORAGE_CLASSES = resources.lookup("storageclasses")
DEFAULT_CLASS = "kompy-local"
Listing = Callable[[Resource, str], list[Obj]]

KOMPY_LOCAL: Obj = {
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": DEFAULT_CLASS,
                 "annotations": {DEFAULT_CLASS_ANNOTATIONS[0]: "true"},
                 "labels": {"app.kubernetes.io/managed-by": "kompy"}},
    "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
    "allowVolumeExpansion": True,
}


# StorageObjectInUseProtection: the finalizer each new claim / volume gets, which the
# pvc-protection and pv-protection controllers take off once nothing uses it
# (kompy/cluster/controllers/storageprotection.py).
PROTECTION_FINALIZERS = {"PersistentVolumeClaim": "kubernetes.io/pvc-protection",
                         "PersistentVolume": "kubernetes.io/pv-protection"}


def admit(res: Resource, obj: Obj, listing: Listing, old: Obj | None = None) -> None:
    if old is None and res.kind in PROTECTION_FINALIZERS:
        _protect(obj, PROTECTION_FINALIZERS[res.kind])
    if res.kind != "PersistentVolumeClaim":
        return
    if old is None:
        _default_class(obj, listing(STORAGE_CLASSES, ""))
    else:
        _update(res, old, obj, listing(STORAGE_CLASSES, ""))


def _protect(obj: Obj, finalizer: str) -> None:
    meta = obj.setdefault("metadata", {})
    finalizers = meta.get("finalizers")
    if not isinstance(finalizers, list):
        finalizers = meta["finalizers"] = []
    if finalizer not in finalizers:
        finalizers.append(finalizer)


def _default_class(claim: Obj, classes: list[Obj]) -> None:
    spec = claim.get("spec")
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if not isinstance(spec, dict) or spec.get("storageClassName") is not None or \
            binding.LEGACY_CLASS_ANNOTATION in annotations:
        return
    found = binding.default_class(classes)
    if found is not None:
        spec["storageClassName"] = (found.get("metadata") or {}).get("name")


_CARRIED = ("volumeName", "storageClassName")


def _update(res: Resource, old: Obj, new: Obj, classes: list[Obj]) -> None:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec")
    if not isinstance(new_spec, dict):
        return
    for key in _CARRIED:
        if new_spec.get(key) is None and old_spec.get(key) is not None:
            new_spec[key] = old_spec[key]
    bound = (old.get("status") or {}).get("phase") == "Bound"
    before, after = copy_json(old_spec), copy_json(new_spec)
    for key in _CARRIED:   # the controller fills these in once
        if not before.get(key) and after.get(key) is not None:
            before[key] = after[key]
    if bound:
        before.setdefault("resources", {})["requests"] = (after.get("resources") or {}).get(
            "requests")
        after.setdefault("resources", {})["requests"] = before["resources"]["requests"]
    before.pop("volumeAttributesClassName", None)
    after.pop("volumeAttributesClassName", None)
    if before != after:
        raise invalid(res, new, [FieldError(
            "spec", "FieldValueForbidden", "Forbidden: spec is immutable after creation except "
            "resources.requests and volumeAttributesClassName for bound claims")])
    grown = binding.requested(new) > binding.requested(old)
    if binding.requested(new) < binding.requested(old):
        raise invalid(res, new, [FieldError(
            "spec.resources.requests.storage", "FieldValueForbidden",
            "Forbidden: field can not be less than previous value")])
    if grown and not _expandable(old, classes):
        raise forbidden(res, new, "only dynamically provisioned pvc can be resized and the "
                                  "storageclass that provisions the pvc must support resize")


def _expandable(claim: Obj, classes: list[Obj]) -> bool:
    if not (claim.get("spec") or {}).get("volumeName"):
        return False
    klass = binding.claim_class(claim)
    return any((c.get("metadata") or {}).get("name") == klass and c.get("allowVolumeExpansion")
               for c in classes)


def ensure_default_class(create: Callable[[Obj], object], classes: list[Obj]) -> None:
    """Make ``kompy-local`` unless it exists or another class is the default."""
    if any((c.get("metadata") or {}).get("name") == DEFAULT_CLASS for c in classes) or \
            binding.default_class(classes) is not None:
        return
    with contextlib.suppress(Conflict):
        create(copy_json(KOMPY_LOCAL))


__all__ = ["DEFAULT_CLASS", "KOMPY_LOCAL", "admit", "ensure_default_class"]
