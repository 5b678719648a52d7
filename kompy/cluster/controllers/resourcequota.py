"""The ResourceQuota controller: each quota's ``status.hard`` (its spec's, canonical) and
``status.used`` (what the namespace uses of each, :mod:`.quotausage`), kept current as
pods, Services, ConfigMaps, Secrets and claims come and go, as kube-controller-manager's
resourcequota controller does. ``kubectl describe quota`` and ``kubectl get quota`` show them.

The API server's quota admission adds each object it admits to ``status.used`` at once;
this controller corrects the numbers from what the namespace holds (a deletion, a pod that
finished). So that it never writes a count older than an admission's, each sync reads the
quota first and the objects after it, straight from the API, and writes with the quota's
resourceVersion (a quota written meanwhile is a Conflict: synced again). Changes of the
objects are gathered for SETTLE_SECONDS before a sync, so a busy namespace is listed a few
times a second at most. Kinds counted as ``count/<resource>.<group>`` that are not watched
are looked at again every RESYNC_SECONDS (upstream's full resync is 5 minutes).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import cast

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace
from kompy.client.resources import Resource
from kompy.cluster.controllers import quotausage as usage
from kompy.cluster.controllers.base import Controller

# The kinds whose changes move usage at once (their informers are the runtime's anyway).
WATCHED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims")
RESYNC_SECONDS = 30.0
SETTLE_SECONDS = 0.3


class ResourceQuotaController(Controller):
    name = "resourcequota"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.quotas = informers["resourcequotas"]
        self._settling: set[str] = set()
        self._lock = threading.Lock()
        self.quotas.add_handler(lambda obj, _d: self.queue.add(namespace(obj)))
        for plural in WATCHED:
            informers[plural].add_handler(self._on_object)

    def _on_object(self, obj: Obj, _deleted: bool) -> None:
        ns = namespace(obj)
        if not ns or not self.quotas.list(ns):
            return
        with self._lock:
            if ns in self._settling:
                return
            self._settling.add(ns)
        self.queue.add_after(ns, SETTLE_SECONDS)

    def _listing(self, res: Resource, ns: str) -> list[Obj]:
        return list(self.client.list(res.plural, ns).get("items") or [])

    def sync(self, key: Hashable) -> None:
        ns = cast(str, key)
        with self._lock:
            self._settling.discard(ns)
        unwatched = False
        for cached in self.quotas.list(ns):
            try:
                quota = self.client.get("resourcequotas", name(cached), ns)
            except NotFound:
                continue
            self._refresh(quota, ns)
            unwatched |= any((res := usage.resource_of(n)) is not None and
                             res.plural not in WATCHED for n in usage.hard(quota))
        if unwatched:
            self.queue.add_after(ns, RESYNC_SECONDS)

    def _refresh(self, quota: Obj, ns: str) -> None:
        used = usage.used(quota, ns, self._listing)
        status = {"hard": {k: str(v) for k, v in usage.hard(quota).items()},
                  "used": {k: str(v) for k, v in used.items()}}
        if (quota.get("status") or {}) == status:
            return
        updated = self.client.replace_status({**quota, "status": status})
        self.quotas.upsert_local(updated)


__all__ = ["ResourceQuotaController"]
