"""PersistentVolumeClaim controller: every claim is bound at once to its own Docker volume.

The built-in cluster has one node and one storage class, a Docker named volume per claim
(``kompy-<cluster>-<namespace>-<claim>``, created by the kubelet when a pod first mounts it),
so a claim is Bound as soon as it exists, with the capacity it requests (Docker's local
volumes do not enforce sizes). https://kubernetes.io/docs/concepts/storage/persistent-volumes/
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import cast

from kompy.client import KubeClient
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import terminating
from kompy.cluster.controllers.base import Controller


class ClaimBinder(Controller):
    name = "pvc-binder"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.claims = informers["persistentvolumeclaims"]
        self.claims.add_handler(lambda obj, _d: self.queue.add(key_of(obj)))

    def sync(self, key: Hashable) -> None:
        ns, claim_name = cast(tuple[str, str], key)
        claim = self.claims.get(ns, claim_name)
        if claim is None or terminating(claim):
            return
        status = claim.get("status") or {}
        if status.get("phase") == "Bound":
            return
        spec = claim.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        bound = {"phase": "Bound", "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                 "capacity": {"storage": storage}}
        self.claims.upsert_local(self.client.replace_status({**claim, "status": bound}))
