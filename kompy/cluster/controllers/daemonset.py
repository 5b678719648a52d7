"""DaemonSet controller: one pod on each node the DaemonSet's pods may run on.

A node qualifies when the pod template's nodeSelector and required node affinity match it
and it has no NoSchedule or NoExecute taint the pods tolerate not (DaemonSet pods tolerate
the not-ready, unreachable and unschedulable taints, as upstream adds those tolerations:
a cordoned or failing node keeps its daemon). Pods are bound to their node directly; a pod
on a node that no longer qualifies, or of an older template, is deleted (RollingUpdate,
one node at a time being what deleting and re-creating each amounts to here).
Each template is kept as a ControllerRevision ``<set>-<hash>`` (``history``), the pods'
``controller-revision-hash`` label being the hash, for ``kubectl rollout history|undo``.
https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import (
    Obj,
    labels,
    meta,
    name,
    pod_ready,
    pod_terminal,
    random_suffix,
    terminating,
)
from kompy.cluster.controllers.base import PodOwnerController
from kompy.cluster.controllers.history import History, owned_revisions
from kompy.cluster.controllers.pods import owned_pods, pod_from_template
from kompy.cluster.controllers.rollout import template_hash
from kompy.cluster.scheduler import affinity, taints

HASH_LABEL = "controller-revision-hash"
# The tolerations the DaemonSet controller adds to its pods (pkg/controller/daemon/util).
DAEMON_TOLERATIONS = [
    {"key": taints.NOT_READY, "operator": "Exists", "effect": taints.NO_EXECUTE},
    {"key": taints.UNREACHABLE, "operator": "Exists", "effect": taints.NO_EXECUTE},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists",
     "effect": taints.NO_SCHEDULE},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
     "effect": taints.NO_SCHEDULE},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists",
     "effect": taints.NO_SCHEDULE},
    {"key": taints.UNSCHEDULABLE, "operator": "Exists", "effect": taints.NO_SCHEDULE},
]


def with_daemon_tolerations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    own = list(spec.get("tolerations") or [])
    return own + [t for t in DAEMON_TOLERATIONS if t not in own]


def runs_on(template_pod: Obj, node: Obj) -> bool:
    """Whether a daemon pod belongs on ``node``."""
    if not affinity.matches_node_selector(template_pod, node):
        return False
    tolerations = with_daemon_tolerations(template_pod.get("spec") or {})
    return taints.untolerated(taints.node_taints(node), tolerations,
                              (taints.NO_SCHEDULE, taints.NO_EXECUTE)) is None


class DaemonSetController(PodOwnerController):
    name = "daemonset"
    owner_resource = "daemonsets"
    owner_kind = "DaemonSet"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder)
        self.nodes = informers["nodes"]
        self.nodes.add_handler(self._on_node)
        self.revisions = informers["controllerrevisions"]
        self.history = History(client, self.revisions, "DaemonSet")

    def _on_node(self, node: Obj, deleted: bool) -> None:
        for ds in self.owners.list():
            self.queue.add((str(meta(ds).get("namespace")), name(ds)))

    def sync(self, key: Hashable) -> None:
        ns, ds_name = cast(tuple[str, str], key)
        ds = self.owners.get(ns, ds_name)
        if ds is None or terminating(ds):
            return
        template = (ds.get("spec") or {}).get("template") or {}
        pod_hash = template_hash(template)
        update = self.history.update_revision(ds, owned_revisions(self.revisions, ds))
        probe = {"metadata": template.get("metadata") or {}, "spec": template.get("spec") or {}}
        eligible = {name(n) for n in self.nodes.list() if runs_on(probe, n)}
        pods = [p for p in owned_pods(self.pods, ds) if not terminating(p)]
        current: dict[str, Obj] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            stale = labels(pod).get(HASH_LABEL) != pod_hash or pod_terminal(pod)
            if stale or node not in eligible or node in current:
                with contextlib.suppress(NotFound):
                    self.client.delete("pods", name(pod), ns)
                continue
            current[str(node)] = pod
        leaving = {(p.get("spec") or {}).get("nodeName")
                   for p in owned_pods(self.pods, ds) if terminating(p)}
        for node in sorted(eligible - set(current) - leaving):
            current[node] = self._create(ds, pod_hash, node)
        ready = sum(1 for p in current.values() if pod_ready(p))
        updated = sum(1 for p in current.values() if labels(p).get(HASH_LABEL) == pod_hash)
        self._write_status(ds, len(eligible), len(current), ready, updated)
        in_use = {f"{ds_name}-{labels(p).get(HASH_LABEL)}" for p in owned_pods(self.pods, ds)}
        self.history.truncate(ds, owned_revisions(self.revisions, ds), in_use | {name(update)})

    def _create(self, ds: Obj, pod_hash: str, node: str) -> Obj:
        pod = pod_from_template(ds, "DaemonSet", "apps/v1", f"{name(ds)}-{random_suffix()}",
                                {HASH_LABEL: pod_hash})
        pod["spec"]["nodeName"] = node  # DaemonSet pods are bound directly
        pod["spec"]["tolerations"] = with_daemon_tolerations(pod["spec"])
        created = self.client.create(pod)
        self.pods.upsert_local(created)
        self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {name(created)}")
        return created

    def _write_status(self, ds: Obj, desired: int, scheduled: int, ready: int, updated: int
                      ) -> None:
        status = dict(ds.get("status") or {})
        wanted = {"currentNumberScheduled": scheduled, "desiredNumberScheduled": desired,
                  "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                  "updatedNumberScheduled": updated,
                  "numberUnavailable": max(desired - ready, 0), "observedGeneration":
                  meta(ds).get("generation", 1)}
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        self.owners.upsert_local(self.client.replace_status({**ds, "status": status}))
