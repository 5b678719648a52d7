"""Which PersistentVolume a claim gets: kube-controller-manager's matching rules, as pure
functions the PersistentVolume controller (:mod:`.persistentvolume`) calls.

A claim takes a volume already bound to it by ``claimRef`` (a pre-bound volume) first; else
the smallest Available volume of its class (``""`` matches ``""``), volume mode and access
modes (the volume's include the claim's) whose labels match the claim's selector and whose
capacity holds its request (pkg/controller/volume/persistentvolume/index.go,
findMatchingVolume). https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding
"""

from __future__ import annotations

from kompy.client.objects import Obj, name, namespace, uid
from kompy.client.quantity import Quantity, or_zero
from kompy.client.selectors import matches_labels, selector_from_match
from kompy.client.wellknown import DEFAULT_CLASS_ANNOTATIONS

LEGACY_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def claim_class(obj: Obj) -> str:
    """A claim's (or a volume's) class: ``spec.storageClassName``, else the beta
    annotation, else ``""``."""
    spec = obj.get("spec") or {}
    if spec.get("storageClassName") is not None:
        return str(spec["storageClassName"])
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(
        LEGACY_CLASS_ANNOTATION, ""))


volume_class = claim_class


def requested(claim: Obj) -> Quantity:
    spec = claim.get("spec") or {}
    return or_zero((((spec.get("resources") or {}).get("requests")) or {}).get("storage", 0))


def capacity(volume: Obj) -> Quantity:
    return or_zero(((volume.get("spec") or {}).get("capacity") or {}).get("storage", 0))


def is_default_class(klass: Obj) -> bool:
    annotations = (klass.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)


def default_class(classes: list[Obj]) -> Obj | None:
    """The default StorageClass: the newest of those marked default (kube-apiserver's
    DefaultStorageClass admission since 1.28), by creation time then name."""
    marked = [c for c in classes if is_default_class(c)]
    if not marked:
        return None
    return max(marked, key=lambda c: (str((c.get("metadata") or {}).get(
        "creationTimestamp") or ""), name(c)))


def prebound_to(volume: Obj, claim: Obj) -> bool:
    """The volume's claimRef names this claim (and its uid, when it has one)."""
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    if not ref or ref.get("name") != name(claim) or ref.get("namespace") != namespace(claim):
        return False
    return not ref.get("uid") or ref.get("uid") == uid(claim)


def fits(volume: Obj, claim: Obj) -> bool:
    """Everything but the claimRef: class, mode, access modes, selector, size, phase."""
    vspec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if (volume.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (volume.get("status") or {}).get("phase") in ("Released", "Failed"):
        return False
    if volume_class(volume) != claim_class(claim):
        return False
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    selector = cspec.get("selector")
    if selector and not matches_labels(selector_from_match(selector),
                                       (volume.get("metadata") or {}).get("labels") or {}):
        return False
    return capacity(volume) >= requested(claim)


def best_volume(claim: Obj, volumes: list[Obj]) -> Obj | None:
    """A volume pre-bound to the claim, else the smallest free one that fits."""
    for volume in volumes:
        if prebound_to(volume, claim) and fits(volume, claim):
            return volume
    free = [v for v in volumes if not (v.get("spec") or {}).get("claimRef") and fits(v, claim)]
    if not free:
        return None
    return min(free, key=lambda v: (capacity(v).value, name(v)))


__all__ = ["best_volume", "capacity", "claim_class", "default_class", "fits",
           "is_default_class", "prebound_to", "requested", "volume_class"]
