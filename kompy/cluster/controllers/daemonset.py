"""DaemonSet controller: one pod on each node the DaemonSet's pods may run on.

A node qualifies when the pod template's nodeSelector and required node affinity match it
and it has no NoSchedule or NoExecute taint the pods tolerate not (DaemonSet pods tolerate
the not-ready, unreachable and unschedulable taints, as upstream adds those tolerations:
a cordoned or failing node keeps its daemon). Pods are bound to their node directly. A
node tainted NoSchedule after its daemon started keeps it but gets no new one
(NodeShouldRunDaemonPod's shouldRun and shouldContinueRunning: ``runs_on``, ``stays_on``);
a pod on a node that no longer matches, or has an untolerated NoExecute taint, is deleted.
A RollingUpdate replaces the pods of older templates within ``maxUnavailable`` (or makes
new pods beside them within ``maxSurge``), as upstream's rollingUpdate (``daemonroll``);
OnDelete leaves them until they are deleted. A pod counts as available once Ready for
``minReadySeconds`` (``availability``).
A pod that ended is deleted (and a new one made), a failed one within a back-off per
DaemonSet, generation and node: 1 s doubling to 15 minutes (kube-controller-manager's
``failedPodsBackoff``), each deletion said by a ``FailedDaemonPod`` Warning event.
Each template is kept as a ControllerRevision ``<set>-<hash>`` (``history``), the pods'
``controller-revision-hash`` label being the hash, for ``kubectl rollout history|undo``.
https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, cast

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import (
    Obj,
    labels,
    meta,
    name,
    namespace,
    pod_terminal,
    random_suffix,
    terminating,
    uid,
)
from kompy.client.revisions import HASH_KEY
from kompy.cluster.controllers.availability import min_ready_seconds, recheck_in
from kompy.cluster.controllers.base import PodOwnerController
from kompy.cluster.controllers.daemonroll import (
    HASH_LABEL,
    Counts,
    Plan,
    budgets,
    manage_node,
    rolling,
    rolling_plan,
    status_counts,
)
from kompy.cluster.controllers.history import History, owned_revisions
from kompy.cluster.controllers.keyedbackoff import KeyedBackoff
from kompy.cluster.controllers.pods import owned_pods, pod_from_template
from kompy.cluster.controllers.rollout import template_hash
from kompy.cluster.scheduler import affinity, taints

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
    """Whether a new daemon pod belongs on ``node`` (NodeShouldRunDaemonPod's shouldRun)."""
    return _fits(template_pod, node, (taints.NO_SCHEDULE, taints.NO_EXECUTE))


def stays_on(template_pod: Obj, node: Obj) -> bool:
    """Whether a daemon pod already on ``node`` may stay (shouldContinueRunning): only an
    untolerated NoExecute taint evicts it, not a NoSchedule one that came after it (such as
    ``node.kubernetes.io/unreachable:NoSchedule`` on a failing node)."""
    return _fits(template_pod, node, (taints.NO_EXECUTE,))


def _fits(template_pod: Obj, node: Obj, effects: tuple[str, ...]) -> bool:
    if not affinity.matches_node_selector(template_pod, node):
        return False
    tolerations = with_daemon_tolerations(template_pod.get("spec") or {})
    return taints.untolerated(taints.node_taints(node), tolerations, effects) is None


# kube-controller-manager's failedPodsBackoff (1 s doubling to 15 min), and how often its
# forgotten keys are dropped (BackoffGCInterval).
FAILED_POD_BACKOFF = (1.0, 900.0)
BACKOFF_GC_SECONDS = 60.0


class DaemonSetController(PodOwnerController):
    name = "daemonset"
    owner_resource = "daemonsets"
    owner_kind = "DaemonSet"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder)
        # Upstream's comment: "a critical place where DS is often fighting with kubelet
        # that rejects pods": a node whose pods keep failing gets a new one ever later.
        self.failed_pods = KeyedBackoff(*FAILED_POD_BACKOFF)
        self._gc_at = time.monotonic() + BACKOFF_GC_SECONDS
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
        update = self.history.update_revision(ds, owned_revisions(self.revisions, ds))
        # The revision's hash, as upstream (cur.Labels[DefaultDaemonSetUniqueLabelKey]): the
        # revision is found by its data, so a template whose stored text changed (canonical
        # quantities, apiserver/storedforms.py) keeps the hash its pods carry.
        pod_hash = labels(update).get(HASH_KEY) or template_hash(template)
        probe = {"metadata": template.get("metadata") or {}, "spec": template.get("spec") or {}}
        all_nodes = self.nodes.list()
        known = sorted(name(n) for n in all_nodes)
        eligible = {name(n) for n in all_nodes if runs_on(probe, n)}
        staying = {name(n) for n in all_nodes if stays_on(probe, n)}
        min_ready = min_ready_seconds(ds)
        surge, unavailable = budgets(ds, len(eligible))
        now = time.time()
        # manage, then (once it has nothing to do) rollingUpdate, as syncDaemonSet does once
        # the expectations of the manage step are met.
        nodes = self._pods_by_node(ds, eligible)
        plan = Plan()
        held: list[float] = []   # seconds until a failed pod's back-off ends
        if time.monotonic() >= self._gc_at:
            self.failed_pods.gc(time.monotonic())
            self._gc_at = time.monotonic() + BACKOFF_GC_SECONDS
        for node, pods in nodes.items():
            step = manage_node(pods, node in eligible, pod_hash, surge > 0, min_ready, now,
                               self._ended(ds, node, held), should_continue=node in staying)
            plan.delete += step.delete
            plan.create += [node for _ in step.create]
        if not plan and rolling(ds) is not None:
            plan = rolling_plan(nodes, eligible, pod_hash, surge, unavailable, min_ready, now)
        self._carry_out(ds, plan, pod_hash)
        nodes = self._pods_by_node(ds, eligible)
        self._write_status(ds, status_counts(nodes, known, eligible, pod_hash, min_ready,
                                             time.time()))
        wait = recheck_in(owned_pods(self.pods, ds), min_ready)
        if wait is not None:
            self.queue.add_after(key, wait)
        if held:
            # Upstream requeues after the whole current back-off; here the sync comes when
            # it ends, the earliest moment the failed pod may go.
            self.queue.add_after(key, min(held))
        in_use = {f"{ds_name}-{labels(p).get(HASH_LABEL)}" for p in owned_pods(self.pods, ds)}
        self.history.truncate(ds, owned_revisions(self.revisions, ds), in_use | {name(update)})

    def _ended(self, ds: Obj, node: str, held: list[float]) -> Callable[[Obj], bool]:
        """Whether a pod of ``ds`` on ``node`` that ended goes now (podsShouldBeOnNode): a
        succeeded one does; a failed one does unless the node's back-off holds it (then the
        time left goes to ``held``). Each one that goes is said in an event on ``ds``."""
        def goes(pod: Obj) -> bool:
            where = f"{namespace(pod)}/{name(pod)} on node {node}"
            if (pod.get("status") or {}).get("phase") != "Failed":
                self.recorder.normal(ds, "SucceededDaemonPod",
                                     f"Found succeeded daemon pod {where}, will try to "
                                     "delete it")
                return True
            # Per DaemonSet, template generation (the one last observed) and node, as
            # failedPodsBackoffKey: a new template starts over.
            generation = (ds.get("status") or {}).get("observedGeneration", 0)
            key = f"{uid(ds)}/{generation}/{node}"
            now = time.monotonic()
            left = self.failed_pods.remaining(key, now)
            if left > 0:
                held.append(left)
                return False
            self.failed_pods.next(key, now)
            self.recorder.warning(ds, "FailedDaemonPod",
                                  f"Found failed daemon pod {where}, will try to kill it")
            return True

        return goes

    def _pods_by_node(self, ds: Obj, eligible: set[str]) -> dict[str, list[Obj]]:
        """Every node that should run a pod, and every node a pod of the set is bound to
        (a pod that ended and is being deleted is left out, as getNodesToDaemonPods
        does), mapped to those pods."""
        nodes: dict[str, list[Obj]] = {n: [] for n in eligible}
        for pod in owned_pods(self.pods, ds):
            if terminating(pod) and pod_terminal(pod):
                continue
            nodes.setdefault(str((pod.get("spec") or {}).get("nodeName") or ""), []).append(pod)
        return nodes

    def _carry_out(self, ds: Obj, plan: Plan, pod_hash: str) -> None:
        ns = namespace(ds)
        for pod_name in plan.delete:
            try:
                left = self.client.delete("pods", pod_name, ns)
            except NotFound:
                left = None
            if left is not None:
                self.pods.upsert_local(left)
            elif (gone := self.pods.get(ns, pod_name)) is not None:
                self.pods.remove_local(gone)
            self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {pod_name}")
        if plan.create and not self.still_there("daemonsets", ds):
            return   # deleted meanwhile: its pods are going, none is made
        for node in plan.create:
            self._create(ds, pod_hash, node)

    def _create(self, ds: Obj, pod_hash: str, node: str) -> Obj:
        pod = pod_from_template(ds, "DaemonSet", "apps/v1", f"{name(ds)}-{random_suffix()}",
                                {HASH_LABEL: pod_hash})
        pod["spec"]["nodeName"] = node  # DaemonSet pods are bound directly
        pod["spec"]["tolerations"] = with_daemon_tolerations(pod["spec"])
        created = self.client.create(pod)
        self.pods.upsert_local(created)
        self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {name(created)}")
        return created

    def _write_status(self, ds: Obj, counts: Counts) -> None:
        status = dict(ds.get("status") or {})
        wanted = {"currentNumberScheduled": counts.scheduled,
                  "desiredNumberScheduled": counts.desired,
                  "numberMisscheduled": counts.misscheduled, "numberReady": counts.ready,
                  "numberAvailable": counts.available,
                  "updatedNumberScheduled": counts.updated,
                  "numberUnavailable": counts.desired - counts.available,
                  "observedGeneration": meta(ds).get("generation", 1)}
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        self.owners.upsert_local(self.client.replace_status({**ds, "status": status}))
