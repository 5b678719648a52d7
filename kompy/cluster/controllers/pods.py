"""Helpers shared by the controllers that own pods: ownership and pods from templates."""

from __future__ import annotations

import copy
from typing import Any

from kompy.client.informer import Informer
from kompy.client.objects import Obj, controller_ref, meta, namespace, owner_ref, uid


def owned_pods(pods: Informer, owner: Obj) -> list[Obj]:
    return [p for p in pods.list(namespace(owner))
            if (controller_ref(p) or {}).get("uid") == uid(owner)]


def pod_from_template(owner: Obj, kind: str, api_version: str, pod_name: str,
                      extra_labels: dict[str, str] | None = None) -> Obj:
    """A Pod from ``owner``'s ``spec.template``, controlled by ``owner``."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {
        "name": pod_name, "namespace": namespace(owner),
        "labels": {**(tmeta.get("labels") or {}), **(extra_labels or {})},
        "ownerReferences": [owner_ref({"apiVersion": api_version, "kind": kind,
                                       "metadata": meta(owner)})],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = tmeta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": template.get("spec") or {}}
