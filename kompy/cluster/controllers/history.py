"""ControllerRevisions: the template history of StatefulSets and DaemonSets.

As pkg/controller/history and the two controllers do upstream: each distinct pod template a
set has had is one ControllerRevision ``<set>-<hash>``, controlled by the set, carrying the
set's pod-template labels and annotations, a ``revision`` number and, in ``data``, the
strategic-merge patch that puts the template back (``client.revisions``). ``kubectl rollout
history`` lists them and ``kubectl rollout undo`` applies one's ``data`` to the set; the
controller then finds that revision again by its data and gives it the next number (a
rollback is a new revision, as for Deployments).
Revisions beyond ``revisionHistoryLimit`` that no pod uses are deleted, oldest first.
https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/controller-revision-v1/
"""

from __future__ import annotations

import contextlib
from typing import Any

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.informer import Informer
from kompy.client.objects import Obj, meta, name, namespace, owner_ref
from kompy.client.revisions import HASH_KEY, controlled_by, number, revision_data
from kompy.cluster.controllers.rollout import template_hash


def owned_revisions(revisions: Informer, owner: Obj) -> list[Obj]:
    """The owner's revisions in the cache, oldest first."""
    return controlled_by(revisions.list(namespace(owner)), owner)


class History:
    """The revisions of one kind of set, through the shared informer."""

    def __init__(self, client: KubeClient, revisions: Informer, kind: str) -> None:
        self.client = client
        self.revisions = revisions
        self.kind = kind

    def update_revision(self, owner: Obj, known: list[Obj]) -> Obj:
        """The revision of the owner's current template: an existing one with the same data
        (renumbered to be the newest, as a rollback makes it), else a new one."""
        template = (owner.get("spec") or {}).get("template") or {}
        data = revision_data(template)
        same_name = f"{name(owner)}-{template_hash(template)}"
        latest = max((number(r) for r in known), default=0)
        for revision in known:
            if revision.get("data") == data or name(revision) == same_name:
                if number(revision) < latest:
                    revision = self._renumber(revision, latest + 1)
                return revision
        return self._create(owner, template, data, latest + 1)

    def _renumber(self, revision: Obj, to: int) -> Obj:
        updated = self.client.replace({**revision, "revision": to})
        self.revisions.upsert_local(updated)
        return updated

    def _create(self, owner: Obj, template: Obj, data: dict[str, Any], revision: int) -> Obj:
        digest = template_hash(template)
        tmeta = template.get("metadata") or {}
        body: dict[str, Any] = {
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {
                "name": f"{name(owner)}-{digest}", "namespace": namespace(owner),
                "labels": {**(tmeta.get("labels") or {}), HASH_KEY: digest},
                "ownerReferences": [owner_ref({"apiVersion": "apps/v1", "kind": self.kind,
                                               "metadata": meta(owner)})]},
            "data": data, "revision": revision}
        annotations = meta(owner).get("annotations") or {}
        if annotations:
            body["metadata"]["annotations"] = dict(annotations)
        try:
            created = self.client.create(body)
        except Conflict:  # made by an earlier sync the cache has not seen yet
            created = self.client.get("controllerrevisions", f"{name(owner)}-{digest}",
                                      namespace(owner))
            if number(created) < revision - 1:
                created = self._renumber(created, revision)
        self.revisions.upsert_local(created)
        return created

    def truncate(self, owner: Obj, known: list[Obj], in_use: set[str]) -> None:
        """Delete the oldest revisions no pod and no status names, beyond the limit."""
        limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10))
        spare = [r for r in known if name(r) not in in_use]
        for revision in spare[:max(len(spare) - limit, 0)]:
            with contextlib.suppress(NotFound):
                self.client.delete("controllerrevisions", name(revision), namespace(revision))
            self.revisions.remove_local(revision)
