"""Objects stored by an earlier kompy, brought to the form this one stores, once per store.

kube-apiserver always stored quantities canonically (it decodes every resource.Quantity and
encodes it again: ``0.5`` is stored as ``500m``); kompy did so only from c3e3eb6 on. An
object written before kept its old text (``0.5``, ``1.5Gi``) until it was next written, and
that write changed a Deployment's pod template under its ReplicaSet, which rolled it. So the
API server rewrites every stored quantity in canonical form before it first serves (the
store's ``migrate``: one transaction, recorded as done, redone whole after a kill), the
templates of Deployments and their ReplicaSets together; the Deployment controller finds the
ReplicaSet of a template by the template (FindNewReplicaSet), not by its hash, whose text
this changes.
"""

from __future__ import annotations

import logging

from kompy.client.objects import Obj
from kompy.client.resources import RESOURCES
from kompy.cluster.apiserver.schemas import Findings, SchemaRegistry
from kompy.cluster.store.sqlite import Store

log = logging.getLogger(__name__)

MIGRATION = "canonical-quantities"
# What a ControllerRevision of a DaemonSet or StatefulSet holds under data.spec.template
# (client/revisions.py): its schema is a RawExtension, whose quantities upstream never
# decodes, but kompy's DaemonSet and StatefulSet controllers find their revision by comparing
# that data with the owner's template, so it must change with the template.
POD_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"

_BY_PLURAL = {res.plural: res for res in RESOURCES}


def canonicalize_stored(store: Store, schemas: SchemaRegistry) -> int | None:
    """Rewrite the store's non-canonical quantities, unless this store had it done; how many
    objects changed (None: done before)."""

    def fix(plural: str, obj: Obj) -> bool:
        res = _BY_PLURAL.get(plural)
        if res is None:
            return False
        found = [schemas.check(res, obj)]
        if res.kind == "ControllerRevision":
            template = ((obj.get("data") or {}).get("spec") or {}).get("template")
            if isinstance(template, dict):
                found.append(schemas.check_definition(POD_TEMPLATE, template))
        return any(_canonicalize(findings) for findings in found)

    changed = store.migrate(MIGRATION, fix)
    if changed:
        log.info("store: quantities of %d objects rewritten in canonical form (once)", changed)
    return changed


def _canonicalize(found: Findings) -> bool:
    if not found.quantities:
        return False
    found.canonicalize()
    return True
