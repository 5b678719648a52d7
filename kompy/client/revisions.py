"""ControllerRevision contents: the pod template a StatefulSet's or DaemonSet's revision
holds, as the controllers write it and kubectl's rollout history/undo read it.

``data`` is the strategic-merge patch ``{"spec": {"template": {..., "$patch": "replace"}}}``
that puts the template back (kubectl's getStatefulSetPatch / getDaemonSetPatch), and
``revision`` its number.
https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/controller-revision-v1/
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from kompy.client.objects import Obj, controller_ref, uid

HASH_KEY = "controller.kubernetes.io/hash"


def revision_data(template: Obj) -> dict[str, Any]:
    """The patch that restores ``template``, shaped as kubectl shapes it (Go's encoding
    gives the template's metadata a null creationTimestamp; keys sorted), so kubectl can
    tell an undo that changes nothing."""
    body = copy.deepcopy(template)
    body["metadata"] = {"creationTimestamp": None, **(body.get("metadata") or {})}
    body["$patch"] = "replace"
    data: dict[str, Any] = json.loads(json.dumps({"spec": {"template": body}}, sort_keys=True))
    return data


def template_of(revision: Mapping[str, Any]) -> Obj:
    """The pod template a revision holds."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    tmeta = dict(template.get("metadata") or {})
    tmeta.pop("creationTimestamp", None)
    template["metadata"] = tmeta
    return template


def number(revision: Mapping[str, Any]) -> int:
    return int(revision.get("revision") or 0)


def controlled_by(revisions: list[Obj], owner: Obj) -> list[Obj]:
    """The owner's revisions (controller reference by uid), oldest first."""
    mine = [r for r in revisions if (controller_ref(r) or {}).get("uid") == uid(owner)]
    return sorted(mine, key=lambda r: (number(r), str((r.get("metadata") or {}).get("name"))))
