"""The ``kompy describe`` layouts of PersistentVolumes and StorageClasses, as kubectl 1.33's
describePersistentVolume and describeStorageClass lay them out."""

from __future__ import annotations

from kompy.client import KubeClient, tables
from kompy.client.objects import Obj
from kompy.client.wellknown import DEFAULT_CLASS_ANNOTATIONS
from kompy.kubectl.describe_common import Writer, annotations_block, events_block, labels_block

Events = list[Obj] | None


def volume(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"Finalizers:\t[{' '.join(meta.get('finalizers') or [])}]\n")
    w(0, f"StorageClass:\t{spec.get('storageClassName') or ''}\n")
    if meta.get("deletionTimestamp"):
        w(0, f"Status:\tTerminating (lasts {tables.age(meta['deletionTimestamp'])})\n")
    else:
        w(0, f"Status:\t{status.get('phase') or ''}\n")
    ref = spec.get("claimRef") or {}
    w(0, f"Claim:\t{ref.get('namespace', '')}/{ref.get('name', '')}\n" if ref else "Claim:\t\n")
    w(0, f"Reclaim Policy:\t{spec.get('persistentVolumeReclaimPolicy') or ''}\n")
    w(0, f"Access Modes:\t{tables.access_modes(spec.get('accessModes'))}\n")
    if spec.get("volumeMode"):
        w(0, f"VolumeMode:\t{spec['volumeMode']}\n")
    w(0, f"Capacity:\t{(spec.get('capacity') or {}).get('storage', '0')}\n")
    w(0, "Node Affinity:\t<none>\n" if not spec.get("nodeAffinity") else
         "Node Affinity:\t(see the object)\n")
    w(0, f"Message:\t{status.get('message') or ''}\n")
    w(0, "Source:\n")
    _source(w, spec)
    events_block(w, events)
    return w.text()


def _source(w: Writer, spec: Obj) -> None:
    if "hostPath" in spec:
        src = spec["hostPath"] or {}
        w(2, "Type:\tHostPath (bare host directory volume)\n"
             f"    Path:\t{src.get('path')}\n    HostPathType:\t{src.get('type') or '<none>'}\n")
    elif "csi" in spec:
        src = spec["csi"] or {}
        w(2, "Type:\tCSI (a Container Storage Interface (CSI) volume source)\n"
             f"    Driver:\t{src.get('driver')}\n    FSType:\t{src.get('fsType') or ''}\n"
             f"    VolumeHandle:\t{src.get('volumeHandle')}\n"
             f"    ReadOnly:\t{'true' if src.get('readOnly') else 'false'}\n")
        attributes = src.get("volumeAttributes") or {}
        w(2, "VolumeAttributes:\t" + ("\n\t".join(f"{k}={v}" for k, v in sorted(
            attributes.items())) or "<none>") + "\n")
    elif "local" in spec:
        w(2, "Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n"
             f"    Path:\t{(spec['local'] or {}).get('path')}\n")
    else:
        w(2, "<unknown>\n")


def storage_class(client: KubeClient, obj: Obj, events: Events) -> str:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    default = any(annotations.get(k) == "true" for k in DEFAULT_CLASS_ANNOTATIONS)
    w(0, f"IsDefaultClass:\t{'Yes' if default else 'No'}\n")
    w(0, f"Annotations:\t{format_labels(annotations)}\n")
    w(0, f"Provisioner:\t{obj.get('provisioner') or ''}\n")
    w(0, f"Parameters:\t{format_labels(obj.get('parameters') or {})}\n")
    expansion = obj.get("allowVolumeExpansion")
    w(0, "AllowVolumeExpansion:\t" + ("<unset>" if expansion is None else
                                      "True" if expansion else "False") + "\n")
    options = obj.get("mountOptions") or []
    if not options:
        w(0, "MountOptions:\t<none>\n")
    else:
        w(0, "MountOptions:\n")
        for option in options:
            w(1, f"{option}\n")
    if obj.get("reclaimPolicy"):
        w(0, f"ReclaimPolicy:\t{obj['reclaimPolicy']}\n")
    if obj.get("volumeBindingMode"):
        w(0, f"VolumeBindingMode:\t{obj['volumeBindingMode']}\n")
    events_block(w, events)
    return w.text()


def format_labels(values: dict[str, str]) -> str:
    """labels.FormatLabels: ``a=1,b=2`` by key, or ``<none>``."""
    return ",".join(f"{k}={v}" for k, v in sorted(values.items())) or "<none>"


__all__ = ["format_labels", "storage_class", "volume"]
