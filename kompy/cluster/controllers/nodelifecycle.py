"""The node lifecycle controller, with its taint eviction and pod garbage collection.

Every monitor period each node's Lease (``kube-node-lease``) is read: one not renewed within
its ``leaseDurationSeconds`` means the kubelet stopped posting status, and the node's Ready
condition becomes Unknown (``NodeStatusUnknown``), its pods not Ready (Services stop
sending them traffic), and it gets the ``node.kubernetes.io/unreachable`` taints, NoSchedule
and NoExecute (a Ready=False node gets ``not-ready``; a cordoned one
``node.kubernetes.io/unschedulable``). Pods on a node with a NoExecute taint they do not
tolerate are deleted; those that tolerate it for ``tolerationSeconds`` (300 s by default,
added by admission) are deleted once that has passed, and their controllers make new ones
elsewhere. Pods bound to a node that no longer exists are deleted at once (PodGC).
https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Hashable
from typing import Any

from kompy.client import ApiError, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace, now, parse_time, pod_terminal, terminating
from kompy.cluster.controllers.base import Controller
from kompy.cluster.scheduler import taints

log = logging.getLogger(__name__)

MONITOR = "monitor"
LEASE_NAMESPACE = "kube-node-lease"
DEFAULT_LEASE_SECONDS = 40
# Node conditions' taints (TaintNodesByCondition and TaintBasedEvictions).
CONDITION_TAINTS = {"Unknown": taints.UNREACHABLE, "False": taints.NOT_READY}
MANAGED_KEYS = (taints.UNREACHABLE, taints.NOT_READY, taints.UNSCHEDULABLE)


def ready_status(node: Obj) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status") or "Unknown")
    return "Unknown"


def wanted_taints(node: Obj, ready: str) -> list[dict[str, Any]]:
    """The node's taints with this controller's own keys made to match its state; others
    (a user's ``kubectl taint``) kept as they are, and a kept taint keeps its timeAdded."""
    old = taints.node_taints(node)
    own: list[dict[str, Any]] = []
    key = CONDITION_TAINTS.get(ready)
    if key:
        own += [{"key": key, "effect": taints.NO_SCHEDULE},
                {"key": key, "effect": taints.NO_EXECUTE}]
    if (node.get("spec") or {}).get("unschedulable"):
        own.append({"key": taints.UNSCHEDULABLE, "effect": taints.NO_SCHEDULE})
    out = [t for t in old if t.get("key") not in MANAGED_KEYS]
    for taint in own:
        same = [t for t in old if (t.get("key"), t.get("effect")) ==
                (taint["key"], taint["effect"])]
        if same:
            out.append(same[0])
        else:
            out.append({**taint, "timeAdded": now()} if taint["effect"] == taints.NO_EXECUTE
                       else taint)
    return out


class NodeLifecycleController(Controller):
    name = "node-lifecycle"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 period: float = 5.0, clock: Any = time.time) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.period = period
        self.clock = clock
        self.nodes = informers["nodes"]
        self.leases = informers["leases"]
        self.pods = informers["pods"]
        self._seen: dict[str, float] = {}  # node -> when this controller first saw it
        self.nodes.add_handler(lambda obj, deleted: self.queue.add(MONITOR))
        self._ticker = threading.Thread(target=self._tick, name="node-monitor", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        super().start()
        self._ticker.start()

    def join(self, timeout: float | None = None) -> None:
        self._stop.set()
        super().join(timeout)

    def _tick(self) -> None:
        while not self._stop.wait(self.period):
            self.queue.add(MONITOR)

    def sync(self, key: Hashable) -> None:
        if not self.nodes.synced.is_set() or not self.pods.synced.is_set():
            return
        nodes = {name(n): n for n in self.nodes.list()}
        for node in nodes.values():
            self._monitor(node)
        self._collect_orphans(set(nodes))

    # -- health ---------------------------------------------------------------------------------
    def _lease_age(self, node: Obj) -> tuple[float, float]:
        """(seconds since the node's last heartbeat, the lease duration). A node without a
        Lease yet counts from when this controller (re)started or it was created."""
        lease = self.leases.get(LEASE_NAMESPACE, name(node))
        spec = (lease or {}).get("spec") or {}
        duration = float(spec.get("leaseDurationSeconds") or DEFAULT_LEASE_SECONDS)
        renewed = parse_time(spec.get("renewTime"))
        if renewed is None:
            renewed = self._seen.setdefault(name(node), self.clock())
        else:
            # After a restart of the daemon, nodes get one lease duration to renew.
            renewed = max(renewed, self._seen.setdefault(name(node), self.clock()))
        return self.clock() - renewed, duration

    def _monitor(self, node: Obj) -> None:
        age, duration = self._lease_age(node)
        ready = ready_status(node)
        if age > duration and ready != "Unknown":
            node = self._mark_unknown(node)
            ready = "Unknown"
        taint_list = wanted_taints(node, ready)
        if taint_list != taints.node_taints(node):
            node = self.client.replace({**node, "spec": {**(node.get("spec") or {}),
                                                         "taints": taint_list or None}})
            self.nodes.upsert_local(node)
        self._evict(node)

    def _mark_unknown(self, node: Obj) -> Obj:
        stamp = now()
        status = dict(node.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
        old = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        conditions.insert(0, {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                              "message": "Kubelet stopped posting node status.",
                              "lastHeartbeatTime": (old[0].get("lastHeartbeatTime")
                                                    if old else stamp),
                              "lastTransitionTime": stamp})
        status["conditions"] = conditions
        updated = self.client.replace_status({**node, "status": status})
        self.nodes.upsert_local(updated)
        self.recorder.normal(updated, "NodeNotReady",
                             f"Node {name(node)} status is now: NodeNotReady")
        for pod in self._pods_on(name(node)):
            self._mark_pod_not_ready(pod)
        return updated

    def _mark_pod_not_ready(self, pod: Obj) -> None:
        status = dict(pod.get("status") or {})
        changed = False
        conditions = []
        for cond in status.get("conditions") or []:
            if cond.get("type") in ("Ready", "ContainersReady") and cond.get("status") != "False":
                cond = {**cond, "status": "False", "lastTransitionTime": now()}
                changed = True
            conditions.append(cond)
        if not changed:
            return
        try:
            self.pods.upsert_local(self.client.replace_status(
                {**pod, "status": {**status, "conditions": conditions}}))
        except ApiError as error:
            log.debug("pod %s not ready: %s", name(pod), error)

    def _pods_on(self, node_name: str) -> list[Obj]:
        return [p for p in self.pods.list()
                if (p.get("spec") or {}).get("nodeName") == node_name and not pod_terminal(p)]

    # -- taint eviction -------------------------------------------------------------------------
    def _evict(self, node: Obj) -> None:
        no_execute = [t for t in taints.node_taints(node) if t.get("effect") == taints.NO_EXECUTE]
        if not no_execute:
            return
        since = min((parse_time(t.get("timeAdded")) or self.clock()) for t in no_execute)
        for pod in self._pods_on(name(node)):
            if terminating(pod):
                continue
            delay = taints.eviction_delay(no_execute, taints.pod_tolerations(pod))
            if delay is None or since + delay <= self.clock():
                self._delete(pod)
            elif delay != float("inf"):
                self.queue.add_after(MONITOR, max(since + delay - self.clock(), 0.1))

    def _delete(self, pod: Obj) -> None:
        self.recorder.normal(pod, "TaintManagerEviction",
                             f"Marking for deletion Pod {namespace(pod)}/{name(pod)}")
        with contextlib.suppress(NotFound):
            self.client.delete("pods", name(pod), namespace(pod))

    # -- pod garbage collection -----------------------------------------------------------------
    def _collect_orphans(self, nodes: set[str]) -> None:
        for pod in self.pods.list():
            bound = (pod.get("spec") or {}).get("nodeName")
            if not bound or bound in nodes:
                continue
            log.info("deleting pod %s/%s of node %s, which no longer exists",
                     namespace(pod), name(pod), bound)
            with contextlib.suppress(NotFound):
                self.client.delete("pods", name(pod), namespace(pod), grace_period_seconds=0)


__all__ = ["NodeLifecycleController"]
