"""The scheduler: binds each pending pod to the best node, as kube-scheduler does.

For each pod without ``spec.nodeName`` (and ``schedulerName`` ``default-scheduler`` or
none), every node is filtered (:mod:`.filters`: unschedulable, taints, node selector and
affinity, host ports, resource fit, topology spread, inter-pod affinity) and the feasible
ones are scored (:mod:`.scores`); the pod is bound to the best, ties broken at random. When
no node fits, preemption looks for lower-priority pods to evict (:mod:`.preemption`: the
chosen node is written as the pod's ``status.nominatedNodeName`` and kept for it, see
:mod:`.nominator`, while the victims terminate), and the pod stays Pending with condition
PodScheduled=False (reason Unschedulable) and a FailedScheduling event worded as
kube-scheduler's ("0/3 nodes are available: ... preemption: ..."), aggregated as its
recorder does (:mod:`.failures`).

Pending pods wait in the scheduling queue (:mod:`.queue`): a pod no node could take is
tried again only after a cluster event that one of the plugins that refused it says may
let it in (:mod:`.hints`: a node added, relabelled, untainted or grown; a bound pod gone;
a claim changed), after its back-off, and at the latest after 5 minutes.

A pod with claims is bound only once they are (:mod:`.volumebinding`, kube-scheduler's
VolumeBinding): its binding cycle waits for them on a thread of its own while the scheduler
goes on with other pods.
https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kompy.client import ApiError, Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import (
    Obj,
    labels,
    name,
    namespace,
    now,
    pod_terminal,
    terminating,
    uid,
)
from kompy.cluster.scheduler import hints, nominator, preemption
from kompy.cluster.scheduler.cache import Cache
from kompy.cluster.scheduler.failures import FailureEvents
from kompy.cluster.scheduler.filters import (
    VOLUME_BINDING,
    ClaimLookup,
    Context,
    claim_being_deleted,
    failure_message,
    fits,
)
from kompy.cluster.scheduler.nominator import Nominator, pod_priority
from kompy.cluster.scheduler.queue import QueuedPod, SchedulingQueue
from kompy.cluster.scheduler.scores import score
from kompy.cluster.scheduler.snapshot import MAX_PODS, Snapshot
from kompy.cluster.scheduler.volumebinding import VolumeBinder, VolumeBindingError
from kompy.errors import KompyError

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
# How long the scheduler's thread waits for work before it ends idle event series.
IDLE_TICK = 60.0

__all__ = ["MAX_PODS", "Scheduler", "fits"]


@dataclass(frozen=True)
class Decision:
    """The node chosen, or why none was: the FailedScheduling message and the plugins that
    refused the pod (which decide the events that may let it in)."""

    node: str | None
    message: str = ""
    plugins: frozenset[str] = frozenset()
    preemption: preemption.Outcome | None = None   # what preemption made of a refused pod


def decide(pod: Obj, snapshot: Snapshot, namespace_labels: dict[str, dict[str, str]],
           rng: random.Random | None = None, claims: ClaimLookup | None = None, *,
           nominated: Mapping[str, Sequence[Obj]] | None = None,
           budgets: Sequence[Obj] = ()) -> Decision:
    """The node for ``pod``, or why none and what preemption found; ``nominated``: the
    pending pods nominated to each node, ``budgets``: the PodDisruptionBudgets."""
    nodes = snapshot.nodes
    try:
        ctx = Context(pod, snapshot, namespace_labels)
        if claims is not None:
            ctx.claims = claims
        refused = claim_being_deleted(ctx)
        if refused:
            outcome = preemption.post_filter(ctx, {}, budgets, nominated)
            return Decision(None, failure_message(len(nodes), {i.name: [] for i in nodes},
                                                  refused, outcome.message),
                            frozenset({VOLUME_BINDING}), outcome)
        refusals = nominator.refusals(ctx, nominated or {})
    except ValueError as error:  # a request that is not a quantity
        return Decision(None, f"0/{len(nodes)} nodes are available: {error}.",
                        frozenset({"NodeResourcesFit"}))
    feasible = [info for info in nodes if not refusals[info.name][1]]
    if not feasible:
        plugins = frozenset(plugin for plugin, _ in refusals.values()) or frozenset(
            {hints.NO_NODES})
        outcome = preemption.post_filter(ctx, refusals, budgets, nominated)
        return Decision(None, failure_message(len(nodes), {
            n: reasons for n, (_, reasons) in refusals.items()}, post_filter=outcome.message),
            plugins, outcome)
    # A pod nominated by preemption goes where its victims made room, when it still fits
    # there (kube-scheduler's evaluateNominatedNode).
    promised = nominator.nominated_node(pod)
    if any(info.name == promised for info in feasible):
        return Decision(promised)
    totals = score(ctx, feasible)
    best = max(totals.values())
    top = sorted(n for n, v in totals.items() if v >= best - 1e-9)
    return Decision((rng or random).choice(top))


def place(pod: Obj, snapshot: Snapshot, namespace_labels: dict[str, dict[str, str]],
          rng: random.Random | None = None, claims: ClaimLookup | None = None
          ) -> tuple[str | None, str]:
    """(the chosen node, "") or (None, the FailedScheduling message)."""
    decision = decide(pod, snapshot, namespace_labels, rng, claims)
    return decision.node, decision.message


def _mine(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and not terminating(pod) and not pod_terminal(pod)
            and spec.get("schedulerName", SCHEDULER_NAME) in (SCHEDULER_NAME, None, ""))


def _counts_on_node(pod: Obj | None) -> bool:
    """A bound pod that holds room on its node (not finished, not gone)."""
    return pod is not None and bool((pod.get("spec") or {}).get("nodeName")) and \
        not pod_terminal(pod)


class Scheduler:
    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 queue: SchedulingQueue | None = None) -> None:
        self.client = client
        self.recorder = recorder
        self.failures = FailureEvents(recorder)
        self.pods = informers["pods"]
        self.nodes = informers["nodes"]
        self.namespaces = informers["namespaces"]
        self.claims = informers["persistentvolumeclaims"]
        self.budgets = informers["poddisruptionbudgets"]
        self.nominator = Nominator()
        self.queue = queue or SchedulingQueue()
        # The nodes and their pods, kept from the informers' events; each cycle brings
        # self.snapshot up to date from it (only what changed is copied).
        self.cache = Cache()
        self.snapshot = Snapshot([])
        # The last version of each claim seen, for the hints' before and after.
        self._claims_seen: dict[tuple[str, str], Obj] = {}
        self._events_lock = threading.Lock()
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        self.claims.add_handler(self._on_claim)
        self.volumes = VolumeBinder(client, informers)
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.queue.close()
        self.volumes.stop()
        self._thread.join(timeout)

    # -- inputs: each informer event updates the cache first, then tells the queue -------------
    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        with self._events_lock:     # old and new must be read and written as one
            old, assumed = self.cache.known(pod)
            self.cache.on_pod(pod, deleted)
            new = None if deleted or not _counts_on_node(pod) else pod
            before = old if _counts_on_node(old) else None
            if new is not None and assumed:
                before = None   # the pod assumed is new to others when its binding shows
            for event in hints.assigned_pod_events(before, new):
                self.queue.move(event, before, new)
        self.nominator.update(pod, pending=not deleted and _mine(pod))
        if not deleted and _mine(pod):
            self.queue.update(pod)
        else:
            self.queue.delete(pod)
            self.failures.finished(pod)

    def _on_node(self, node: Obj, deleted: bool) -> None:
        with self._events_lock:
            old = self.cache.node(name(node))
            self.cache.on_node(node, deleted)
            for event in hints.node_events(old, None if deleted else node):
                self.queue.move(event, old, None if deleted else node)

    def _on_claim(self, claim: Obj, deleted: bool) -> None:
        key = (namespace(claim), name(claim))
        with self._events_lock:
            old = self._claims_seen.pop(key, None)
            if not deleted:
                self._claims_seen[key] = claim
            action = hints.DELETE if deleted else hints.ADD if old is None else hints.UPDATE
            if action == hints.UPDATE and old is not None and \
                    old.get("metadata", {}).get("resourceVersion") == \
                    claim.get("metadata", {}).get("resourceVersion"):
                return                                  # a resync: nothing changed
            self.queue.move(hints.ClusterEvent(hints.CLAIM, action), old,
                            None if deleted else claim)

    # -- the work -------------------------------------------------------------------------------
    def _wait_synced(self) -> bool:
        """Wait until every informer the decisions read has listed (kube-scheduler waits
        for its caches to sync before its first cycle): a pod tried before the nodes are
        known would be refused, written Unschedulable and backed off for nothing."""
        for informer in (self.pods, self.nodes, self.namespaces, self.claims,
                         self.volumes.classes, self.budgets):
            while not informer.synced.wait(0.5):
                if self.queue.closed:
                    return False
        return True

    def _run(self) -> None:
        if not self._wait_synced():
            return
        while True:
            qp = self.queue.pop(timeout=IDLE_TICK)
            self.failures.tick()
            if qp is None:
                if self.queue.closed:
                    return
                continue
            try:
                self._attempt(qp)
            except Exception as error:  # noqa: BLE001 - the scheduler must survive any one pod
                if isinstance(error, KompyError):
                    log.warning("scheduling %s/%s: %s", *qp.key, error)
                else:
                    log.error("scheduling %s/%s failed", *qp.key, exc_info=error)
                self.queue.add_unschedulable(qp, error=True)

    def _attempt(self, qp: QueuedPod) -> None:
        """One scheduling cycle for the popped pod; it ends with the pod landed in the queue
        (bound, gone, or back as unschedulable)."""
        ns, pod_name = qp.key
        pod = self.pods.get(ns, pod_name)
        if pod is None or not _mine(pod):
            self.queue.done(qp.key)
            return
        qp.pod = pod
        self.cache.update(self.snapshot)
        refused = self.volumes.pre_filter(pod)
        if refused:   # VolumeBinding's PreFilter: no node is looked at
            tail = preemption.post_filter(Context(pod, self.snapshot), {})
            self._unschedulable(pod, failure_message(len(self.snapshot.nodes), {
                info.name: [] for info in self.snapshot.nodes}, refused, tail.message),
                tail.nominate)
            self.queue.add_unschedulable(qp, {VOLUME_BINDING})
            return
        ns_labels = {name(n): labels(n) for n in self.namespaces.list()}
        decision = decide(pod, self.snapshot, ns_labels, claims=self.claims.get,
                          nominated=self.nominator.by_node(), budgets=self.budgets.list())
        if decision.node is None:
            outcome = decision.preemption
            if outcome is not None and outcome.candidate is not None:
                self._preempt(pod, outcome.candidate)
            self._unschedulable(pod, decision.message,
                                outcome.nominate if outcome is not None else None)
            self.queue.add_unschedulable(qp, decision.plugins)
            return
        # Counted on the node from now on, so the next decision sees it before the watch
        # brings it back bound (kube-scheduler's assume, then bind).
        assumed = self.cache.assume(pod, decision.node)
        if self.volumes.unbound(pod):   # the pod stays in flight while its claims bind
            threading.Thread(target=self._binding_cycle, args=(qp, pod, decision.node, assumed),
                             name=f"bind {ns}/{pod_name}", daemon=True).start()
            return
        self._bind(qp, pod, decision.node, assumed)

    def _binding_cycle(self, qp: QueuedPod, pod: Obj, node: str, assumed: Obj) -> None:
        """PreBind (the claims selected for the node, then bound), then Bind; a failure
        unreserves the pod and sends it back to the queue, as kube-scheduler does."""
        try:
            if self.volumes.pre_bind(pod, node, lambda: self._still_pending(pod)):
                self._bind(qp, pod, node, assumed)
                return
            self.cache.forget(assumed)   # gone, or bound by someone else: nothing to do
            self.queue.done(qp.key)
        except VolumeBindingError as error:
            self.cache.forget(assumed)
            self._binding_failed(self.pods.get(*qp.key) or pod, str(error))
            self.queue.add_unschedulable(qp, error=True)
        except Exception:  # noqa: BLE001 - the scheduler must survive any one pod
            log.exception("binding cycle of %s/%s", *qp.key)
            self.cache.forget(assumed)
            self.queue.add_unschedulable(qp, error=True)

    def _still_pending(self, pod: Obj) -> bool:
        current = self.pods.get(namespace(pod), name(pod))
        return current is not None and uid(current) == uid(pod) and _mine(current)

    def _binding_failed(self, pod: Obj, message: str) -> None:
        """kube-scheduler's handleBindingCycleError: FailedScheduling with the plugin's error,
        PodScheduled False with reason SchedulerError."""
        log.info("binding cycle of %s/%s: %s", namespace(pod), name(pod), message)
        self.failures.failed(pod, message)
        self._set_unscheduled(pod, "SchedulerError", message)

    def _bind(self, qp: QueuedPod, pod: Obj, node: str, assumed: Obj) -> None:
        ns, pod_name = qp.key
        try:
            bound = self.client.patch("pods", pod_name, ns, {"spec": {"nodeName": node}})
        except NotFound:
            self.cache.forget(assumed)
            self.queue.done(qp.key)
            return
        except Conflict:            # changed meanwhile: try again after a back-off
            self.cache.forget(assumed)
            self.queue.add_unschedulable(qp, error=True)
            return
        except BaseException:
            self.cache.forget(assumed)
            raise
        self.cache.finish_binding(assumed)
        self.pods.upsert_local(bound)
        self.queue.done(qp.key)
        self.failures.finished(pod)
        self.recorder.normal(bound, "Scheduled",
                             f"Successfully assigned {ns}/{pod_name} to {node}")

    def _preempt(self, preemptor: Obj, candidate: preemption.Candidate) -> None:
        """prepareCandidate: each victim marked DisruptionTarget, deleted gracefully and
        told why in a ``Preempted`` event; the pods of lower priority nominated to the node
        lose their nomination (they may no longer fit there)."""
        node = candidate.node
        self.nominator.nominate(preemptor, node)
        for victim in candidate.victims:
            if (victim.get("metadata") or {}).get("deletionTimestamp"):
                continue     # already on its way out: nothing to ask again
            try:
                self._mark_disrupted(victim)
                self.client.delete("pods", name(victim), namespace(victim))
            except NotFound:
                continue
            log.info("preempted %s/%s on %s for %s/%s", namespace(victim), name(victim),
                     node, namespace(preemptor), name(preemptor))
            self.recorder.normal(victim, "Preempted",
                                 f"Preempted by pod {uid(preemptor)} on node {node}")
        priority = pod_priority(preemptor)
        for other in self.nominator.by_node().get(node, []):
            if pod_priority(other) < priority:
                self.nominator.nominate(other, "")
                try:
                    self.client.patch("pods", name(other), namespace(other),
                                      {"status": {"nominatedNodeName": None}},
                                      subresource="status")
                except ApiError as error:
                    log.debug("clearing the nomination of %s: %s", name(other), error)

    def _mark_disrupted(self, victim: Obj) -> None:
        """The DisruptionTarget condition, as kube-scheduler's PreemptPod writes it."""
        current = self.pods.get(namespace(victim), name(victim)) or victim
        conditions = [c for c in (current.get("status") or {}).get("conditions") or []
                      if c.get("type") != "DisruptionTarget"]
        conditions.append({"type": "DisruptionTarget", "status": "True",
                           "reason": preemption.REASON, "lastProbeTime": None,
                           "lastTransitionTime": now(),
                           "message": f"{SCHEDULER_NAME}: preempting to accommodate a "
                                      "higher priority pod"})
        self.client.patch("pods", name(victim), namespace(victim),
                          {"status": {"conditions": conditions}}, subresource="status")

    def _unschedulable(self, pod: Obj, message: str, nominate: str | None = None) -> None:
        """FailedScheduling and the PodScheduled condition; ``nominate``: the nominated node
        to write ("" clears it, None leaves it)."""
        self.failures.failed(pod, message)
        status = pod.get("status") or {}
        same_node = nominate is None or (status.get("nominatedNodeName") or "") == nominate
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("message") == message \
                    and cond.get("status") == "False" and same_node:
                return  # already said: as upstream, an unchanged condition is not written
        self._set_unscheduled(pod, "Unschedulable", message, nominate)

    def _set_unscheduled(self, pod: Obj, reason: str, message: str,
                         nominate: str | None = None) -> None:
        status: dict[str, Any] = dict(pod.get("status") or {})
        if nominate is not None:
            status.pop("nominatedNodeName", None)
            if nominate:
                status["nominatedNodeName"] = nominate
        status["phase"] = "Pending"
        status["conditions"] = [{"type": "PodScheduled", "status": "False",
                                 "reason": reason, "message": message,
                                 "lastProbeTime": None, "lastTransitionTime": now()}]
        try:
            self.client.replace_status({**pod, "status": status})
        except ApiError as error:
            log.debug("status of unschedulable pod %s: %s", name(pod), error)
