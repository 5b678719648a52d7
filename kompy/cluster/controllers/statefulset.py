"""StatefulSet controller: pods with stable names and their own claims.

Pod ``<set>-<ordinal>`` gets a claim ``<template>-<set>-<ordinal>`` per volumeClaimTemplate,
created once and kept when the pod goes (the data follows the ordinal). With the default
``OrderedReady`` policy, ordinal N is created only when 0..N-1 are running and available
(Ready for ``minReadySeconds``; ``availableReplicas`` counts those), and
scaling down removes the highest ordinal first, one at a time; ``Parallel`` does all at
once. RollingUpdate replaces pods whose template changed, highest ordinal first, one at a
time (``partition`` honoured). The pod's hostname is its name and its subdomain the
governing Service. https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/

Revisions, as pkg/controller/statefulset's updateStatefulSet and completeRollingUpdate: each
template is a ControllerRevision (``history``); ``status.updateRevision`` is the current
template's, and ``status.currentRevision`` stays the revision the set rolls away from until
every replica is updated and ready (only then does it become the update revision).
``currentReplicas``/``updatedReplicas`` count the pods of each. A pod re-created below the
partition gets the current revision's template, so a partitioned set keeps its old pods old.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import (
    Obj,
    labels,
    meta,
    name,
    namespace,
    pod_ready,
    terminating,
)
from kompy.client.revisions import template_of
from kompy.cluster.controllers.availability import min_ready_seconds, pod_available, recheck_in
from kompy.cluster.controllers.base import PodOwnerController
from kompy.cluster.controllers.history import History, owned_revisions
from kompy.cluster.controllers.pods import owned_pods, pod_from_template

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def ordinal(set_name: str, pod: Obj) -> int:
    suffix = name(pod)[len(set_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


class Revisions:
    """The two revisions one sync works with: the one rolled from and the one rolled to."""

    def __init__(self, current: Obj, update: Obj) -> None:
        self.current = current
        self.update = update

    def for_ordinal(self, sts: Obj, i: int) -> Obj:
        """newVersionedStatefulSetPod: an ordinal below the partition (or, without a
        rollingUpdate, below the current replicas) is made at the current revision."""
        spec = sts.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("rollingUpdate")
        if rolling is not None:
            below = i < int(rolling.get("partition") or 0)
        else:
            below = (strategy.get("type", "RollingUpdate") == "RollingUpdate" and
                     i < int((sts.get("status") or {}).get("currentReplicas") or 0))
        return self.current if below else self.update


class StatefulSetController(PodOwnerController):
    name = "statefulset"
    owner_resource = "statefulsets"
    owner_kind = "StatefulSet"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder)
        self.revisions = informers["controllerrevisions"]
        self.history = History(client, self.revisions, "StatefulSet")

    def sync(self, key: Hashable) -> None:
        ns, set_name = cast(tuple[str, str], key)
        sts = self.owners.get(ns, set_name)
        if sts is None or terminating(sts):
            return
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        revs = self._revisions(sts)
        pods = {ordinal(set_name, p): p for p in owned_pods(self.pods, sts)}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        min_ready, now = min_ready_seconds(sts), time.time()
        # Scale up in order (OrderedReady waits for each pod to be available).
        for i in range(replicas):
            pod = pods.get(i)
            if pod is None:
                pods[i] = self._create(sts, i, revs.for_ordinal(sts, i))
                if not parallel:
                    break
            elif not parallel and (terminating(pod) or not pod_available(pod, min_ready, now)):
                break   # each predecessor Running and available first (isRunningAndAvailable)
        # Scale down from the highest ordinal.
        extra = sorted((i for i in pods if i >= replicas or i < 0), reverse=True)
        for i in extra:
            pod = pods[i]
            if not terminating(pod):
                self._delete(pods, i)
            if not parallel:
                break
        if not extra:
            self._roll(sts, pods, replicas, name(revs.update), min_ready)
        self._write_status(sts, pods, replicas, revs, min_ready)
        wait = recheck_in([p for p in pods.values() if not terminating(p)], min_ready)
        if wait is not None:
            self.queue.add_after(key, wait)
        in_use = {labels(p).get(REVISION_LABEL, "") for p in pods.values()}
        self.history.truncate(sts, owned_revisions(self.revisions, sts),
                              in_use | {name(revs.current), name(revs.update)})

    def _revisions(self, sts: Obj) -> Revisions:
        update = self.history.update_revision(sts, owned_revisions(self.revisions, sts))
        wanted = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in owned_revisions(self.revisions, sts) if name(r) == wanted),
                       update)
        return Revisions(current, update)

    def _create(self, sts: Obj, i: int, revision: Obj) -> Obj:
        set_name = name(sts)
        spec = sts.get("spec") or {}
        versioned = {**sts, "spec": {**spec, "template": template_of(revision)}}
        pod = pod_from_template(versioned, "StatefulSet", "apps/v1", f"{set_name}-{i}",
                                {REVISION_LABEL: name(revision),
                                 POD_NAME_LABEL: f"{set_name}-{i}"})
        pod_spec = pod["spec"]
        pod_spec["hostname"] = f"{set_name}-{i}"
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod_spec.get("volumes") or []]
        for template in spec.get("volumeClaimTemplates") or []:
            claim = f"{name(template)}-{set_name}-{i}"
            self._ensure_claim(sts, template, claim)
            volumes = [v for v in volumes if v.get("name") != name(template)]
            volumes.append({"name": name(template),
                            "persistentVolumeClaim": {"claimName": claim}})
        if volumes:
            pod_spec["volumes"] = volumes
        try:
            created = self.client.create(pod)
        except Conflict:  # the previous pod of this ordinal is still terminating
            return self.client.get("pods", f"{set_name}-{i}", namespace(sts))
        self.pods.upsert_local(created)
        self.recorder.normal(sts, "SuccessfulCreate",
                             f"create Pod {name(created)} in StatefulSet {set_name} successful")
        return created

    def _ensure_claim(self, sts: Obj, template: Obj, claim: str) -> None:
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace(sts),
                         "labels": dict(labels(sts.get("spec", {}).get("template") or {}) or
                                        (meta(template).get("labels") or {}))},
            "spec": copy.deepcopy(template.get("spec") or {})}
        with contextlib.suppress(Conflict):
            self.client.create(body)

    def _delete(self, pods: dict[int, Obj], i: int) -> None:
        """Delete pod ``i``; ``pods`` then holds it terminating (or not at all), so this
        sync's status already counts it out of its revision, as upstream's does."""
        pod = pods[i]
        with contextlib.suppress(NotFound):
            left = self.client.delete("pods", name(pod), namespace(pod))
            if left is not None:
                self.pods.upsert_local(left)
                pods[i] = left
                return
        self.pods.remove_local(pod)
        pods.pop(i)

    def _roll(self, sts: Obj, pods: dict[int, Obj], replicas: int, revision: str,
              min_ready: int) -> None:
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        now = time.time()
        if any(terminating(p) or not pod_available(p, min_ready, now) for p in pods.values()):
            return  # one at a time, each waiting for the previous to be available again
        for i in sorted((i for i in pods if partition <= i < replicas), reverse=True):
            if labels(pods[i]).get(REVISION_LABEL) != revision:
                self._delete(pods, i)
                return

    def _write_status(self, sts: Obj, pods: dict[int, Obj], replicas: int, revs: Revisions,
                      min_ready: int) -> None:
        live = [p for i, p in pods.items() if i >= 0 and not terminating(p)]
        ready = sum(1 for p in live if pod_ready(p))
        now = time.time()
        available = sum(1 for p in live if pod_available(p, min_ready, now))
        current, update = name(revs.current), name(revs.update)
        at = [labels(p).get(REVISION_LABEL) for p in live]
        status = dict(sts.get("status") or {})
        wanted = {"observedGeneration": meta(sts).get("generation", 1), "replicas": len(live),
                  "readyReplicas": ready, "availableReplicas": available,
                  "currentReplicas": at.count(current), "updatedReplicas": at.count(update),
                  "currentRevision": current, "updateRevision": update,
                  "collisionCount": int(status.get("collisionCount") or 0)}
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        # completeRollingUpdate: the update revision becomes current only once every
        # replica runs it and is ready.
        if (strategy.get("type", "RollingUpdate") == "RollingUpdate" and
                wanted["updatedReplicas"] == replicas and ready == replicas and
                len(live) == replicas):
            wanted["currentReplicas"] = wanted["updatedReplicas"]
            wanted["currentRevision"] = update
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        self.owners.upsert_local(self.client.replace_status({**sts, "status": status}))
