"""The scheduler's cache: a NodeInfo per node, kept up to date from the pod and node
informers' events, plus the pods the scheduler has *assumed* on a node before the API said
so (kube-scheduler's pkg/scheduler/backend/cache, formerly internal/cache).

Why: building every node's sums from every pod for every decision cost about 10 % of the
control plane's CPU at 300 pods. Here an event changes one NodeInfo, and each scheduling
cycle copies only the NodeInfos changed since the last one into its snapshot (upstream's
UpdateSnapshot, by generation).

Assumed pods: the scheduler assumes a pod on its chosen node before the bind request, so
the next decision counts it even before the watch brings the bound pod back. The watch's
event confirms it; a failed bind forgets it. As upstream since kubernetes#106361, an assumed
pod whose bind succeeded does not expire by default (``ttl`` 0): the watch (or a relist)
always brings it, while expiring it early would hide a pod that holds resources. A
positive ``ttl`` expires assumed pods that long after their binding finished.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kompy.client.objects import Obj, name, pod_terminal
from kompy.cluster.scheduler.snapshot import NodeInfo, Snapshot, pod_key

log = logging.getLogger(__name__)


@dataclass
class _PodState:
    node: str
    assumed: bool = False
    deadline: float | None = None   # for an assumed pod whose binding finished (ttl > 0)


class Cache:
    """Thread-safe: the informers' threads write it, the scheduler's thread reads it."""

    def __init__(self, ttl: float = 0.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._assumed: set[str] = set()     # keys of the assumed pods, for expiry
        self._generation = 0

    # -- informer events ------------------------------------------------------------------------
    def on_pod(self, pod: Obj, deleted: bool) -> None:
        """A pod event. Only bound pods are the cache's: a pending pod is the queue's (and
        an earlier, unbound version of a pod assumed meanwhile must not undo the assumption)."""
        if deleted or pod_terminal(pod):
            self.remove_pod(pod)
        elif (pod.get("spec") or {}).get("nodeName"):
            self.add_pod(pod)

    def on_node(self, node: Obj, deleted: bool) -> None:
        if deleted:
            self.remove_node(name(node))
        else:
            self.set_node(node)

    def add_pod(self, pod: Obj) -> None:
        """A bound pod came or changed; an assumed one is confirmed (on the node the API says,
        should that differ)."""
        key, node = pod_key(pod), str(pod["spec"]["nodeName"])
        with self._lock:
            state = self._pods.get(key)
            if state is not None and state.node != node:
                if state.assumed:
                    log.warning("pod %s was assumed on %s but bound to %s", key, state.node,
                                node)
                self._node_without(state.node, key)
            self._pods[key] = _PodState(node)
            self._assumed.discard(key)
            self._info(node).add(pod, key)
            self._touch(node)

    def remove_pod(self, pod: Obj) -> None:
        key = pod_key(pod)
        with self._lock:
            state = self._pods.pop(key, None)
            self._assumed.discard(key)
            if state is not None:
                self._node_without(state.node, key)

    def set_node(self, node: Obj) -> None:
        with self._lock:
            self._info(name(node)).node = node
            self._touch(name(node))

    def remove_node(self, node_name: str) -> None:
        """A node left. Its pods stay counted (on a NodeInfo no snapshot shows) until their
        own deletions come, as upstream keeps a removed node's pods."""
        with self._lock:
            info = self._nodes.get(node_name)
            if info is None:
                return
            info.node = {}
            self._touch(node_name)
            self._drop_if_empty(node_name)

    # -- the binding cycle ---------------------------------------------------------------------
    def assume(self, pod: Obj, node: str) -> Obj:
        """Count ``pod`` on ``node`` from now on; returns the assumed copy (bound to it)."""
        assumed = copy.copy(pod)
        assumed["spec"] = {**(pod.get("spec") or {}), "nodeName": node}
        key = pod_key(pod)
        with self._lock:
            if key in self._pods:
                raise ValueError(f"pod {key} is already in the scheduler's cache")
            self._pods[key] = _PodState(node, assumed=True)
            self._assumed.add(key)
            self._info(node).add(assumed, key)
            self._touch(node)
        return assumed

    def finish_binding(self, pod: Obj) -> None:
        """The bind request succeeded; the pod stays assumed until the watch confirms it
        (or, with a ttl, until it expires)."""
        with self._lock:
            state = self._pods.get(pod_key(pod))
            if state is not None and state.assumed and self.ttl > 0:
                state.deadline = self.clock() + self.ttl

    def forget(self, pod: Obj) -> None:
        """The bind failed: the pod no longer counts where it was assumed."""
        key = pod_key(pod)
        with self._lock:
            state = self._pods.get(key)
            if state is not None and state.assumed:
                del self._pods[key]
                self._assumed.discard(key)
                self._node_without(state.node, key)

    def known(self, pod: Obj) -> tuple[Obj | None, bool]:
        """The version of ``pod`` the cache counts on a node (None if none), and whether
        it is only assumed there."""
        with self._lock:
            state = self._pods.get(pod_key(pod))
            if state is None:
                return None, False
            info = self._nodes.get(state.node)
            return (info.pods.get(pod_key(pod)) if info else None), state.assumed

    def node(self, node_name: str) -> Obj | None:
        """The node as the cache has it (None if it has none)."""
        with self._lock:
            info = self._nodes.get(node_name)
            return info.node if info is not None and info.node else None

    def is_assumed(self, pod: Obj) -> bool:
        with self._lock:
            state = self._pods.get(pod_key(pod))
            return state is not None and state.assumed

    # -- snapshots ----------------------------------------------------------------------------
    def update(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date: copy the NodeInfos changed since its last update,
        drop the nodes that left, and expire assumed pods past their deadline."""
        with self._lock:
            self._expire()
            current = {info.name: info for info in snapshot.nodes}
            changed = False
            for node_name, info in self._nodes.items():
                if info.generation <= snapshot.generation:
                    continue
                changed = True
                if not info.node:
                    current.pop(node_name, None)
                else:
                    current[node_name] = info.clone()
            for node_name in [n for n in current if n not in self._nodes]:
                del current[node_name]
                changed = True
            if changed:
                snapshot.nodes = [current[n] for n in sorted(current)]
            snapshot.generation = self._generation

    def _expire(self) -> None:
        now = self.clock()
        for key in list(self._assumed):
            state = self._pods[key]
            if state.deadline is not None and now >= state.deadline:
                log.warning("assumed pod %s expired: its binding was never confirmed", key)
                del self._pods[key]
                self._assumed.discard(key)
                self._node_without(state.node, key)

    # -- helpers (under the lock) ---------------------------------------------------------------
    def _info(self, node_name: str) -> NodeInfo:
        info = self._nodes.get(node_name)
        if info is None:
            info = self._nodes[node_name] = NodeInfo({})
        return info

    def _touch(self, node_name: str) -> None:
        self._generation += 1
        self._nodes[node_name].generation = self._generation

    def _node_without(self, node_name: str, key: str) -> None:
        info = self._nodes.get(node_name)
        if info is None:
            return
        info.remove(key)
        self._touch(node_name)
        self._drop_if_empty(node_name)

    def _drop_if_empty(self, node_name: str) -> None:
        info = self._nodes[node_name]
        if not info.node and not info.pods:
            del self._nodes[node_name]
