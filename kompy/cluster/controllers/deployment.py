"""Deployment controller: Deployment -> ReplicaSets -> Pods, with rollouts and rollbacks.

Each distinct pod template gets its own ReplicaSet, named ``<deployment>-<pod-template-hash>``
and labelled with that hash; the ``deployment.kubernetes.io/revision`` annotation numbers
them. Re-applying an earlier template finds its ReplicaSet again by hash and gives it the
next revision (a rollback). RollingUpdate honours maxSurge/maxUnavailable and readiness;
Recreate scales the old ReplicaSets to zero and waits for their pods to be gone first.
https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import (
    Obj,
    controller_ref,
    meta,
    name,
    namespace,
    now,
    owner_ref,
    terminating,
    uid,
)
from kompy.client.wellknown import BOOKKEEPING_ANNOTATIONS, HASH_LABEL, REVISION
from kompy.cluster.controllers.base import Controller
from kompy.cluster.controllers.rollout import (
    fenceposts,
    new_rs_replicas,
    old_rs_replicas,
    template_hash,
)

log = logging.getLogger(__name__)


def copied_annotations(dep: Obj) -> dict[str, str]:
    """What a new ReplicaSet inherits of its Deployment's annotations (change-cause...)."""
    return {k: str(v) for k, v in (meta(dep).get("annotations") or {}).items()
            if k not in BOOKKEEPING_ANNOTATIONS}


def revision(rs: Obj) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def _spec_replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas") or 0)


def _status(rs: Obj, key: str) -> int:
    return int((rs.get("status") or {}).get(key) or 0)


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=2)
        self.deployments = informers["deployments"]
        self.rs = informers["replicasets"]
        self.pods = informers["pods"]
        self.deployments.add_handler(lambda obj, _d: self.queue.add(key_of(obj)))
        self.rs.add_handler(self._on_rs)
        self.pods.add_handler(self._on_pod)

    def _on_rs(self, rs: Obj, deleted: bool) -> None:
        ref = controller_ref(rs)
        if ref is not None and ref.get("kind") == "Deployment":
            self.queue.add((namespace(rs), str(ref.get("name"))))

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        if not (deleted or terminating(pod)):
            return  # Recreate waits for old pods to be gone; nothing else needs pod events
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "ReplicaSet":
            rs = self.rs.get(namespace(pod), str(ref.get("name")))
            if rs is not None:
                self._on_rs(rs, False)

    def sync(self, key: Hashable) -> None:
        ns, dep_name = cast(tuple[str, str], key)
        dep = self.deployments.get(ns, dep_name)
        if dep is None or terminating(dep):
            return
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        all_rs = [rs for rs in self.rs.list(ns)
                  if (controller_ref(rs) or {}).get("uid") == uid(dep) and not terminating(rs)]
        found = self._new_and_old(dep, all_rs)
        if found is None:
            return   # deleted meanwhile: its ReplicaSets are going, none is made
        new, olds = found
        if spec.get("paused"):
            self._write_status(dep, new, olds)
            return
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            self._recreate(dep, new, olds, replicas)
        else:
            self._rolling(dep, new, olds, replicas)
        self._cleanup(dep, olds)
        self._write_status(dep, new, olds)

    # -- the new ReplicaSet -------------------------------------------------------------------
    def _new_and_old(self, dep: Obj, all_rs: list[Obj]) -> tuple[Obj, list[Obj]] | None:
        """The new ReplicaSet (made when missing) and the old ones; None when the Deployment
        turns out to be gone."""
        template = (dep.get("spec") or {}).get("template") or {}
        collisions = int((dep.get("status") or {}).get("collisionCount") or 0)
        pod_hash = template_hash(template, collisions)
        new = _find_new(all_rs, template, pod_hash)
        olds = sorted((rs for rs in all_rs if rs is not new), key=revision)
        top = max((revision(rs) for rs in all_rs), default=0)
        if new is None:
            if not self.still_there("deployments", dep):
                return None
            new = self._create_rs(dep, template, pod_hash, top + 1, olds)
        elif revision(new) < top:  # an old template is back: a rollback
            new = self.client.patch("replicasets", name(new), namespace(new), {"metadata": {
                "annotations": {**copied_annotations(dep), REVISION: str(top + 1)}}})
            self.rs.upsert_local(new)
        wanted_min_ready = int((dep.get("spec") or {}).get("minReadySeconds") or 0)
        if int((new.get("spec") or {}).get("minReadySeconds") or 0) != wanted_min_ready:
            # getNewReplicaSet: the new ReplicaSet follows the Deployment's minReadySeconds
            # (its availableReplicas, which paces the rollout, depends on it).
            new = self.client.patch("replicasets", name(new), namespace(new), {
                "spec": {"minReadySeconds": wanted_min_ready}})
            self.rs.upsert_local(new)
        dep_rev = (meta(dep).get("annotations") or {}).get(REVISION)
        if dep_rev != str(revision(new)):
            updated = self.client.patch("deployments", name(dep), namespace(dep), {
                "metadata": {"annotations": {REVISION: str(revision(new))}}})
            self.deployments.upsert_local(updated)
        return new, olds

    def _create_rs(self, dep: Obj, template: dict[str, Any], pod_hash: str, rev: int,
                   olds: list[Obj]) -> Obj:
        template = copy.deepcopy(template)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
        spec = dep.get("spec") or {}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        replicas = int(spec.get("replicas", 1))
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            initial = 0  # scaled up once the old pods are gone
        else:
            surge, _ = fenceposts(spec.get("strategy") or {}, replicas)
            total = sum(_spec_replicas(rs) for rs in olds)
            initial = new_rs_replicas(replicas, surge, total, 0)
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name(dep)}-{pod_hash}", "namespace": namespace(dep),
                "labels": dict(tmeta["labels"]),
                "annotations": {**copied_annotations(dep), REVISION: str(rev),
                                "deployment.kubernetes.io/desired-replicas": str(replicas),
                                "deployment.kubernetes.io/max-replicas": str(replicas)},
                "ownerReferences": [owner_ref({"apiVersion": "apps/v1", "kind": "Deployment",
                                               "metadata": meta(dep)})],
            },
            "spec": {"replicas": initial, "selector": selector, "template": template,
                     "minReadySeconds": spec.get("minReadySeconds", 0)},
        }
        try:
            created = self.client.create(rs)
        except Conflict:
            existing = self.client.get("replicasets", f"{name(dep)}-{pod_hash}", namespace(dep))
            if (controller_ref(existing) or {}).get("uid") != uid(dep):
                # A foreign object has our name: bump collisionCount and hash again.
                status = {**(dep.get("status") or {}), "collisionCount":
                          int((dep.get("status") or {}).get("collisionCount") or 0) + 1}
                self.client.replace_status({**dep, "status": status})
                raise
            created = existing
        self.rs.upsert_local(created)
        self.recorder.normal(dep, "ScalingReplicaSet",
                             f"Scaled up replica set {name(created)} to {initial}")
        return created

    # -- strategies ---------------------------------------------------------------------------
    def _scale(self, dep: Obj, rs: Obj, replicas: int) -> Obj:
        if _spec_replicas(rs) == replicas:
            return rs
        direction = "up" if replicas > _spec_replicas(rs) else "down"
        updated = self.client.patch("replicasets", name(rs), namespace(rs), {
            "metadata": {"annotations": {
                "deployment.kubernetes.io/desired-replicas":
                    str((dep.get("spec") or {}).get("replicas", 1))}},
            "spec": {"replicas": replicas}})
        self.rs.upsert_local(updated)
        self.recorder.normal(dep, "ScalingReplicaSet",
                             f"Scaled {direction} replica set {name(rs)} to {replicas}")
        return updated

    def _rolling(self, dep: Obj, new: Obj, olds: list[Obj], replicas: int) -> None:
        strategy = (dep.get("spec") or {}).get("strategy") or {}
        surge, unavailable = fenceposts(strategy, replicas)
        total = _spec_replicas(new) + sum(_spec_replicas(rs) for rs in olds)
        new = self._scale(dep, new, new_rs_replicas(replicas, surge, total, _spec_replicas(new)))
        sizes = old_rs_replicas(replicas, unavailable, _spec_replicas(new),
                                _status(new, "availableReplicas"),
                                [(_spec_replicas(rs), _status(rs, "availableReplicas"))
                                 for rs in olds])
        for rs, size in zip(olds, sizes, strict=True):
            self._scale(dep, rs, size)

    def _recreate(self, dep: Obj, new: Obj, olds: list[Obj], replicas: int) -> None:
        for rs in olds:
            self._scale(dep, rs, 0)
        old_uids = {uid(rs) for rs in olds}
        if any((controller_ref(p) or {}).get("uid") in old_uids
               for p in self.pods.list(namespace(dep))):
            return  # old pods still running or terminating
        self._scale(dep, new, replicas)

    def _cleanup(self, dep: Obj, olds: list[Obj]) -> None:
        limit = int((dep.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [rs for rs in olds if _spec_replicas(rs) == 0 and _status(rs, "replicas") == 0]
        for rs in idle[:max(0, len(idle) - limit)]:
            with contextlib.suppress(NotFound):
                self.client.delete("replicasets", name(rs), namespace(rs))

    # -- status -------------------------------------------------------------------------------
    def _write_status(self, dep: Obj, new: Obj, olds: list[Obj]) -> None:
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        every = [new, *olds]
        available = sum(_status(rs, "availableReplicas") for rs in every)
        updated = _status(new, "replicas")
        total = sum(_status(rs, "replicas") for rs in every)
        _, max_unavailable = fenceposts(spec.get("strategy") or {}, replicas)
        old_status = dep.get("status") or {}
        complete = (updated == replicas and total == replicas and available == replicas
                    and _spec_replicas(new) == replicas)
        conditions = [
            _condition(old_status, "Available", available >= replicas - max_unavailable,
                       "MinimumReplicasAvailable" if available >= replicas - max_unavailable
                       else "MinimumReplicasUnavailable",
                       "Deployment has minimum availability." if available >= replicas -
                       max_unavailable else "Deployment does not have minimum availability."),
            _condition(old_status, "Progressing", True,
                       "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                       f'ReplicaSet "{name(new)}" has successfully progressed.' if complete
                       else f'ReplicaSet "{name(new)}" is progressing.'),
        ]
        status = {
            "observedGeneration": meta(dep).get("generation", 1),
            "replicas": total, "updatedReplicas": updated,
            "readyReplicas": sum(_status(rs, "readyReplicas") for rs in every),
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
            "conditions": conditions,
        }
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        if _same(old_status, status):
            return
        fresh = self.deployments.get(namespace(dep), name(dep)) or dep
        updated_dep = self.client.replace_status({**fresh, "status": status})
        self.deployments.upsert_local(updated_dep)


def _condition(old_status: dict[str, Any], kind: str, value: bool, reason: str, message: str
               ) -> dict[str, Any]:
    status = "True" if value else "False"
    before = next((c for c in old_status.get("conditions") or [] if c.get("type") == kind), None)
    stamp = now()
    transition = before.get("lastTransitionTime") if before and \
        before.get("status") == status else stamp
    updated = before.get("lastUpdateTime") if before and before.get("reason") == reason and \
        before.get("status") == status else stamp
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": updated, "lastTransitionTime": transition}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(s: dict[str, Any]) -> Any:
        return {**s, "conditions": [{k: v for k, v in c.items()
                                     if k not in ("lastTransitionTime", "lastUpdateTime")}
                                    for c in s.get("conditions") or []]}

    return bool(strip(a) == strip(b))


def _find_new(all_rs: list[Obj], template: dict[str, Any], pod_hash: str) -> Obj | None:
    """The ReplicaSet of the Deployment's template: FindNewReplicaSet's, the oldest whose
    template equals it but for the hash label (EqualIgnoreHash); else the one with the
    template's hash. By the template first, as upstream: the hash is of the template's
    text, which a change of the stored form moves without changing the template (quantities
    stored canonically from c3e3eb6 on: ``0.5`` is ``500m``; apiserver/storedforms.py)."""
    wanted = _without_hash(template)
    for rs in sorted(all_rs, key=lambda rs: (str(meta(rs).get("creationTimestamp") or ""),
                                             name(rs))):
        if _without_hash((rs.get("spec") or {}).get("template") or {}) == wanted:
            return rs
    return next((rs for rs in all_rs
                 if (meta(rs).get("labels") or {}).get(HASH_LABEL) == pod_hash), None)


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    tmeta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (tmeta.get("labels") or {}).items() if k != HASH_LABEL}
    if labels:
        tmeta["labels"] = labels
    else:
        tmeta.pop("labels", None)
    return {**template, "metadata": tmeta}
