"""DaemonSet controller: one pod per node, and this cluster has one node.

The pod is re-created when the template changes (RollingUpdate with one node is exactly
that). https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import cast

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import (
    labels,
    meta,
    name,
    pod_ready,
    pod_terminal,
    random_suffix,
    terminating,
)
from kompy.cluster.controllers.base import PodOwnerController
from kompy.cluster.controllers.pods import owned_pods, pod_from_template
from kompy.cluster.controllers.rollout import template_hash

HASH_LABEL = "controller-revision-hash"


class DaemonSetController(PodOwnerController):
    name = "daemonset"
    owner_resource = "daemonsets"
    owner_kind = "DaemonSet"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 node_name: str = "kompy") -> None:
        super().__init__(client, informers, recorder)
        self.node_name = node_name

    def sync(self, key: Hashable) -> None:
        ns, ds_name = cast(tuple[str, str], key)
        ds = self.owners.get(ns, ds_name)
        if ds is None or terminating(ds):
            return
        pod_hash = template_hash((ds.get("spec") or {}).get("template") or {})
        pods = [p for p in owned_pods(self.pods, ds) if not terminating(p)]
        for pod in pods:
            if labels(pod).get(HASH_LABEL) != pod_hash or pod_terminal(pod):
                with contextlib.suppress(NotFound):
                    self.client.delete("pods", name(pod), ns)
        current = [p for p in pods if labels(p).get(HASH_LABEL) == pod_hash
                   and not pod_terminal(p)]
        if not current and not [p for p in owned_pods(self.pods, ds) if terminating(p)]:
            pod = pod_from_template(ds, "DaemonSet", "apps/v1", f"{ds_name}-{random_suffix()}",
                                    {HASH_LABEL: pod_hash})
            pod["spec"]["nodeName"] = self.node_name  # DaemonSet pods are bound directly
            created = self.client.create(pod)
            self.pods.upsert_local(created)
            current = [created]
            self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {name(created)}")
        ready = sum(1 for p in current if pod_ready(p))
        status = dict(ds.get("status") or {})
        wanted = {"currentNumberScheduled": len(current), "desiredNumberScheduled": 1,
                  "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                  "updatedNumberScheduled": len(current),
                  "numberUnavailable": 1 - ready, "observedGeneration":
                  meta(ds).get("generation", 1)}
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        self.owners.upsert_local(self.client.replace_status({**ds, "status": status}))
