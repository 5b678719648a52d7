"""StatefulSet controller: pods with stable names and their own claims.

Pod ``<set>-<ordinal>`` gets a claim ``<template>-<set>-<ordinal>`` per volumeClaimTemplate,
created once and kept when the pod goes (the data follows the ordinal). With the default
``OrderedReady`` policy, ordinal N is created only when 0..N-1 are running and ready, and
scaling down removes the highest ordinal first, one at a time; ``Parallel`` does all at
once. RollingUpdate replaces pods whose template changed, highest ordinal first, one at a
time (``partition`` honoured). The pod's hostname is its name and its subdomain the
governing Service. https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import Conflict, NotFound
from kompy.client.objects import (
    Obj,
    labels,
    meta,
    name,
    namespace,
    pod_ready,
    terminating,
)
from kompy.cluster.controllers.base import PodOwnerController
from kompy.cluster.controllers.pods import owned_pods, pod_from_template
from kompy.cluster.controllers.rollout import template_hash

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def ordinal(set_name: str, pod: Obj) -> int:
    suffix = name(pod)[len(set_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


class StatefulSetController(PodOwnerController):
    name = "statefulset"
    owner_resource = "statefulsets"
    owner_kind = "StatefulSet"

    def sync(self, key: Hashable) -> None:
        ns, set_name = cast(tuple[str, str], key)
        sts = self.owners.get(ns, set_name)
        if sts is None or terminating(sts):
            return
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        revision = f"{set_name}-{template_hash(spec.get('template') or {})}"
        pods = {ordinal(set_name, p): p for p in owned_pods(self.pods, sts)}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        # Scale up in order (OrderedReady waits for each pod to be ready).
        for i in range(replicas):
            pod = pods.get(i)
            if pod is None:
                pods[i] = self._create(sts, i, revision)
                if not parallel:
                    break
            elif not parallel and (terminating(pod) or not pod_ready(pod)):
                break
        # Scale down from the highest ordinal.
        extra = sorted((i for i in pods if i >= replicas or i < 0), reverse=True)
        for i in extra:
            pod = pods[i]
            if not terminating(pod):
                self._delete(pod)
            if not parallel:
                break
        if not extra:
            self._roll(sts, pods, replicas, revision, parallel)
        self._write_status(sts, pods, replicas, revision)

    def _create(self, sts: Obj, i: int, revision: str) -> Obj:
        set_name = name(sts)
        spec = sts.get("spec") or {}
        pod = pod_from_template(sts, "StatefulSet", "apps/v1", f"{set_name}-{i}",
                                {REVISION_LABEL: revision, POD_NAME_LABEL: f"{set_name}-{i}"})
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

    def _delete(self, pod: Obj) -> None:
        with contextlib.suppress(NotFound):
            left = self.client.delete("pods", name(pod), namespace(pod))
            if left is not None:
                self.pods.upsert_local(left)
            else:
                self.pods.remove_local(pod)

    def _roll(self, sts: Obj, pods: dict[int, Obj], replicas: int, revision: str,
              parallel: bool) -> None:
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if any(terminating(p) or not pod_ready(p) for p in pods.values()):
            return  # one at a time, each waiting for the previous to be ready again
        for i in sorted((i for i in pods if partition <= i < replicas), reverse=True):
            if labels(pods[i]).get(REVISION_LABEL) != revision:
                self._delete(pods[i])
                return

    def _write_status(self, sts: Obj, pods: dict[int, Obj], replicas: int, revision: str
                      ) -> None:
        live = [p for i, p in pods.items() if i >= 0 and not terminating(p)]
        ready = sum(1 for p in live if pod_ready(p))
        updated = sum(1 for p in live if labels(p).get(REVISION_LABEL) == revision)
        status = dict(sts.get("status") or {})
        wanted = {"observedGeneration": meta(sts).get("generation", 1), "replicas": len(live),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "currentReplicas": updated, "updatedReplicas": updated,
                  "currentRevision": revision, "updateRevision": revision}
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        self.owners.upsert_local(self.client.replace_status({**sts, "status": status}))
