"""The scheduler: binds each pending pod to the best node, as kube-scheduler does.

For each pod without ``spec.nodeName`` (and ``schedulerName`` ``default-scheduler`` or
none), every node is filtered (:mod:`.filters`: unschedulable, taints, node selector and
affinity, host ports, resource fit, topology spread, inter-pod affinity) and the feasible
ones are scored (:mod:`.scores`); the pod is bound to the best, ties broken at random. When
no node fits, the pod stays Pending with condition PodScheduled=False (reason
Unschedulable) and a FailedScheduling event worded as kube-scheduler's ("0/3 nodes are
available: ..."), and is tried again whenever a pod leaves or a node changes. A pod with
claims is bound only once they are (:mod:`.volumebinding`): its binding cycle waits on a
thread of its own while the scheduler goes on with other pods.
https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Hashable
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
from kompy.client.workqueue import WorkQueue
from kompy.cluster.scheduler.cache import Cache
from kompy.cluster.scheduler.filters import (
    ClaimLookup,
    Context,
    claim_being_deleted,
    failure_message,
    fits,
    reasons_for,
)
from kompy.cluster.scheduler.scores import score
from kompy.cluster.scheduler.snapshot import MAX_PODS, Snapshot
from kompy.cluster.scheduler.volumebinding import VolumeBinder, VolumeBindingError
from kompy.errors import KompyError

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"

__all__ = ["MAX_PODS", "Scheduler", "fits"]


def place(pod: Obj, snapshot: Snapshot, namespace_labels: dict[str, dict[str, str]],
          rng: random.Random | None = None, claims: ClaimLookup | None = None
          ) -> tuple[str | None, str]:
    """(the chosen node, "") or (None, the FailedScheduling message)."""
    try:
        ctx = Context(pod, snapshot, namespace_labels)
        if claims is not None:
            ctx.claims = claims
        refused = claim_being_deleted(ctx)
        if refused:
            return None, failure_message(len(snapshot.nodes),
                                         {info.name: [] for info in snapshot.nodes}, refused)
        reasons = {info.name: reasons_for(ctx, info) for info in snapshot.nodes}
    except ValueError as error:  # a request that is not a quantity
        return None, f"0/{len(snapshot.nodes)} nodes are available: {error}."
    feasible = [info for info in snapshot.nodes if not reasons[info.name]]
    if not feasible:
        return None, failure_message(len(snapshot.nodes), reasons)
    totals = score(ctx, feasible)
    best = max(totals.values())
    top = sorted(n for n, v in totals.items() if v >= best - 1e-9)
    return (rng or random).choice(top), ""


class Scheduler:
    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        self.client = client
        self.recorder = recorder
        self.pods = informers["pods"]
        self.nodes = informers["nodes"]
        self.namespaces = informers["namespaces"]
        self.claims = informers["persistentvolumeclaims"]
        self.queue = WorkQueue()
        # The nodes and their pods, kept from the informers' events; each cycle brings
        # self.snapshot up to date from it (only what changed is copied).
        self.cache = Cache()
        self.snapshot = Snapshot([])
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        # A claim that goes (or changes) may let waiting pods in.
        self.claims.add_handler(lambda _claim, _deleted: self._retry_pending())
        self.volumes = VolumeBinder(client, informers)
        # Pods in their binding cycle (waiting for their claims): not scheduled again meanwhile.
        self._binding: set[tuple[str, str]] = set()
        self._binding_lock = threading.Lock()
        self._thread = threading.Thread(target=self.queue.run_worker,
                                        args=(self._schedule_key, self._schedule_failed),
                                        name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.queue.shutdown()
        self.volumes.stop()
        self._thread.join(timeout)

    # -- inputs ---------------------------------------------------------------------------------
    def _retry_pending(self) -> None:
        for waiting in self.pods.list():
            if self._mine(waiting):
                self.queue.add((namespace(waiting), name(waiting)))

    @staticmethod
    def _mine(pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (not spec.get("nodeName") and not terminating(pod) and not pod_terminal(pod)
                and spec.get("schedulerName", SCHEDULER_NAME) in (SCHEDULER_NAME, None, ""))

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        self.cache.on_pod(pod, deleted)
        spec = pod.get("spec") or {}
        if deleted or terminating(pod) or pod_terminal(pod):
            if spec.get("nodeName"):  # room freed, a spread changed: try the waiting pods
                self._retry_pending()
            return
        if self._mine(pod):
            self.queue.add((namespace(pod), name(pod)))

    def _on_node(self, node: Obj, deleted: bool) -> None:
        self.cache.on_node(node, deleted)
        # A node added, uncordoned, untainted or relabelled may take what waits.
        self._retry_pending()

    # -- the work -------------------------------------------------------------------------------
    def _schedule_key(self, key: Hashable) -> None:
        self._schedule(*key)  # type: ignore[misc]

    def _schedule_failed(self, key: Hashable, error: Exception) -> float:
        if isinstance(error, KompyError):
            log.warning("scheduling %s: %s", key, error)
        else:  # the scheduler must survive any one pod
            log.error("scheduling %s failed", key, exc_info=error)
        return 5.0

    def _schedule(self, ns: str, pod_name: str) -> None:
        pod = self.pods.get(ns, pod_name)
        if pod is None or not self._mine(pod):
            return
        with self._binding_lock:
            if (ns, pod_name) in self._binding:
                return   # its binding cycle goes on
        self.cache.update(self.snapshot)
        refused = self.volumes.pre_filter(pod)
        if refused:
            total = len(self.snapshot.nodes)
            self._unschedulable(pod, failure_message(
                total, {info.name: [] for info in self.snapshot.nodes}, refused))
            return
        ns_labels = {name(n): labels(n) for n in self.namespaces.list()}
        node, message = place(pod, self.snapshot, ns_labels, claims=self.claims.get)
        if node is None:
            self._unschedulable(pod, message)
            return
        # Counted on the node from now on, so the next decision sees it before the watch
        # brings it back bound (kube-scheduler's assume, then bind).
        assumed = self.cache.assume(pod, node)
        if self.volumes.unbound(pod):
            with self._binding_lock:
                self._binding.add((ns, pod_name))
            threading.Thread(target=self._binding_cycle, args=(pod, node, assumed),
                             name=f"bind {ns}/{pod_name}", daemon=True).start()
            return
        self._bind(pod, node, assumed)

    def _binding_cycle(self, pod: Obj, node: str, assumed: Obj) -> None:
        """PreBind (the claims selected for the node, then bound), then Bind; a failure
        unreserves the pod and sends it back to the queue, as kube-scheduler does."""
        key = (namespace(pod), name(pod))
        retry = True
        try:
            if self.volumes.pre_bind(pod, node, lambda: self._still_pending(pod)):
                self._bind(pod, node, assumed)   # re-queues the pod itself when it must
                retry = False
            else:
                self.cache.forget(assumed)   # gone, or bound by someone else: nothing to do
        except VolumeBindingError as error:
            self.cache.forget(assumed)
            self._binding_failed(self.pods.get(*key) or pod, str(error))
        except Exception:  # the scheduler must survive any one pod  # noqa: BLE001
            log.exception("binding cycle of %s/%s", *key)
            self.cache.forget(assumed)
        finally:
            with self._binding_lock:
                self._binding.discard(key)
        if retry:
            self.queue.add_after(key, 1.0)   # back to the queue, after a backoff

    def _still_pending(self, pod: Obj) -> bool:
        current = self.pods.get(namespace(pod), name(pod))
        return current is not None and uid(current) == uid(pod) and self._mine(current)

    def _binding_failed(self, pod: Obj, message: str) -> None:
        """kube-scheduler's handleBindingCycleError: FailedScheduling with the plugin's error,
        PodScheduled False with reason SchedulerError."""
        log.info("binding cycle of %s/%s: %s", namespace(pod), name(pod), message)
        self.recorder.warning(pod, "FailedScheduling", message)
        self._set_unscheduled(pod, "SchedulerError", message)

    def _bind(self, pod: Obj, node: str, assumed: Obj) -> None:
        ns, pod_name = namespace(pod), name(pod)
        try:
            bound = self.client.patch("pods", pod_name, ns, {"spec": {"nodeName": node}})
        except NotFound:
            self.cache.forget(assumed)
            return
        except Conflict:
            self.cache.forget(assumed)
            self.queue.add_after((ns, pod_name), 0.5)
            return
        except BaseException:
            self.cache.forget(assumed)
            raise
        self.cache.finish_binding(assumed)
        self.pods.upsert_local(bound)
        self.recorder.normal(bound, "Scheduled",
                             f"Successfully assigned {ns}/{pod_name} to {node}")

    def _unschedulable(self, pod: Obj, message: str) -> None:
        for cond in (pod.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("message") == message:
                return  # already said (and writing it again would wake us up again)
        self.recorder.warning(pod, "FailedScheduling", message)
        self._set_unscheduled(pod, "Unschedulable", message)

    def _set_unscheduled(self, pod: Obj, reason: str, message: str) -> None:
        status: dict[str, Any] = dict(pod.get("status") or {})
        status["phase"] = "Pending"
        status["conditions"] = [{"type": "PodScheduled", "status": "False",
                                 "reason": reason, "message": message,
                                 "lastProbeTime": None, "lastTransitionTime": now()}]
        try:
            self.client.replace_status({**pod, "status": status})
        except ApiError as error:
            log.debug("status of unschedulable pod %s: %s", name(pod), error)
