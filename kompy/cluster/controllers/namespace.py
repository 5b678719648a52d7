"""Namespace controller: deleting a namespace deletes everything in it.

When a namespace is marked for deletion (``deletionTimestamp``, phase Terminating) or is
already gone, every namespaced object in it is deleted; once nothing is left, the namespace
is deleted for good. https://kubernetes.io/docs/tasks/administer-cluster/namespaces/
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Hashable

from kompy.client import ApiError, KubeClient, NotFound, resources
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name
from kompy.cluster.controllers.base import Controller

log = logging.getLogger(__name__)

# Workloads first, so their controllers do not recreate what is being deleted.
ORDER = ("deployments", "statefulsets", "daemonsets", "cronjobs", "jobs", "replicasets")


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 on_gone: Callable[[str], None] | None = None) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.namespaces = informers["namespaces"]
        self.on_gone = on_gone
        self.namespaces.add_handler(self._on_namespace)
        self._deleted: set[str] = set()

    def _on_namespace(self, ns: Obj, deleted: bool) -> None:
        if deleted:
            self._deleted.add(name(ns))
            self.queue.add(name(ns))
        elif (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.add(name(ns))

    def sync(self, key: Hashable) -> None:
        ns_name = str(key)
        current = self.namespaces.get("", ns_name)
        if current is not None and not (current.get("metadata") or {}).get("deletionTimestamp"):
            self._deleted.discard(ns_name)
            return  # re-created meanwhile
        plurals = [r.plural for r in resources.RESOURCES if r.namespaced]
        plurals.sort(key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER))
        left = 0
        for plural in plurals:
            try:
                items = self.client.list(plural, ns_name).get("items") or []
            except ApiError as error:
                log.debug("listing %s in %s: %s", plural, ns_name, error)
                continue
            for obj in items:
                left += 1
                if (obj.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                with contextlib.suppress(NotFound):
                    self.client.delete(plural, name(obj), ns_name)
        if left:
            self.queue.add_after(ns_name, 1.0)
            return
        if current is not None:
            with contextlib.suppress(NotFound):
                self.client.delete("namespaces", ns_name)
        if self.on_gone is not None:
            self.on_gone(ns_name)
        self._deleted.discard(ns_name)
