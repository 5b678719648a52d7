"""Garbage collection through ownerReferences, with background propagation.

An object all of whose owners are gone is deleted (deleting a Deployment deletes its
ReplicaSets, which deletes their pods). Before deleting, the owner's absence is confirmed
against the API, not only the cache, so a watch that lags a create never costs a live object.
https://kubernetes.io/docs/concepts/architecture/garbage-collection/
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import ApiError, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, meta, name, namespace, uid
from kompy.cluster.controllers.base import Controller

log = logging.getLogger(__name__)

# Dependents watched (resource) and owner kinds whose caches we hold (kind -> resource).
OWNERS = {"Deployment": "deployments", "ReplicaSet": "replicasets", "Service": "services",
          "Pod": "pods", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
          "Job": "jobs", "CronJob": "cronjobs"}
# Kinds whose objects are collected when their owners are gone (a CronJob's Jobs too).
COLLECTED = ("replicasets", "pods", "jobs", "controllerrevisions")


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=2)
        for resource in COLLECTED:
            informers[resource].add_handler(self._on_object(resource))
        for kind, resource in OWNERS.items():
            informers[resource].add_handler(self._on_owner(kind))

    def _on_object(self, resource: str) -> Any:
        def handler(obj: Obj, deleted: bool) -> None:
            if not deleted and meta(obj).get("ownerReferences"):
                self.queue.add((resource, namespace(obj), name(obj)))
        return handler

    def _on_owner(self, kind: str) -> Any:
        def handler(owner: Obj, deleted: bool) -> None:
            if not deleted:
                return
            gone = uid(owner)
            for resource in COLLECTED:
                for obj in self.informers[resource].list(namespace(owner)):
                    if any(r.get("uid") == gone for r in meta(obj).get("ownerReferences") or []):
                        self.queue.add((resource, namespace(obj), name(obj)))
        return handler

    def _owner_exists(self, ns: str, ref: dict[str, Any]) -> bool:
        resource = OWNERS.get(str(ref.get("kind")))
        if resource is not None:
            cached = self.informers[resource].get(ns, str(ref.get("name")))
            if cached is not None and uid(cached) == ref.get("uid"):
                return True
        try:
            found = self.client.get(str(ref.get("kind")), str(ref.get("name")), ns)
        except NotFound:
            return False
        except ApiError:
            return True  # unknown kind or a failure: never delete on doubt
        return uid(found) == ref.get("uid")

    def sync(self, key: Hashable) -> None:
        resource, ns, obj_name = cast(tuple[str, str, str], key)
        obj = self.informers[resource].get(ns, obj_name)
        if obj is None or meta(obj).get("deletionTimestamp"):
            return
        refs = meta(obj).get("ownerReferences") or []
        if not refs or any(self._owner_exists(ns, ref) for ref in refs):
            return
        # The cache may be behind: an object orphaned just before its owner went (delete
        # --cascade=orphan) has no owner reference any more. Decide on the live object,
        # as Kubernetes' garbage collector does (attemptToDeleteItem reads it again).
        try:
            live = self.client.get(resource, obj_name, ns)
        except NotFound:
            return
        live_refs = meta(live).get("ownerReferences") or []
        if uid(live) != uid(obj) or not live_refs or \
                any(self._owner_exists(ns, ref) for ref in live_refs):
            return
        log.info("garbage collector: deleting %s %s/%s (its owners are gone)", resource, ns,
                 obj_name)
        with contextlib.suppress(NotFound):
            self.client.delete(resource, obj_name, ns)
