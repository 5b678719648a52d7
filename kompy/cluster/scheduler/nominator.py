"""Nominated pods: pending pods that preemption promised a node (``status.nominatedNodeName``),
and the filters run with them counted (kube-scheduler's PodNominator and
RunFilterPluginsWithNominatedPods).

Why: once victims are being deleted for a preemptor, the room they free is the preemptor's.
A pod of lower priority (the victims' own replacements, typically) must not take it
meanwhile, so every filter run counts, on each node, the pods nominated there with a
priority at least the incoming pod's. As upstream, a node that fits with them is checked
once more without them (a pod affinity to a nominated pod must not count as met).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from kompy.client.objects import Obj
from kompy.cluster.scheduler.filters import Context, refusal
from kompy.cluster.scheduler.snapshot import NodeInfo, Snapshot, pod_key


def pod_priority(pod: Obj) -> int:
    """``spec.priority``, 0 when unset (corev1helpers.PodPriority)."""
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def nominated_node(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("nominatedNodeName") or "")


class Nominator:
    """Thread-safe: the pod informer's thread reports pods, the scheduler's thread reads and
    nominates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[str, tuple[str, Obj]] = {}

    def update(self, pod: Obj, pending: bool) -> None:
        """A pod event: a pending pod with a nominated node is kept, any other dropped."""
        node = nominated_node(pod) if pending else ""
        with self._lock:
            if node:
                self._pods[pod_key(pod)] = (node, pod)
            else:
                self._pods.pop(pod_key(pod), None)

    def nominate(self, pod: Obj, node: str) -> None:
        """The scheduler's own nomination (or "" to drop it), before its write comes back."""
        with self._lock:
            if node:
                self._pods[pod_key(pod)] = (node, pod)
            else:
                self._pods.pop(pod_key(pod), None)

    def by_node(self) -> dict[str, list[Obj]]:
        with self._lock:
            out: dict[str, list[Obj]] = {}
            for node, pod in self._pods.values():
                out.setdefault(node, []).append(pod)
            return out


def replaced(snapshot: Snapshot, info: NodeInfo) -> Snapshot:
    """The snapshot with ``info`` in place of the node of its name (the cluster-wide filters,
    topology spread and inter-pod affinity, then see the change)."""
    return Snapshot([info if n.name == info.name else n for n in snapshot.nodes],
                    snapshot.generation)


def _with(ctx: Context, snapshot: Snapshot) -> Context:
    return Context(ctx.pod, snapshot, ctx.namespace_labels, ctx.claims)


def refusal_with_nominated(ctx: Context, info: NodeInfo, nominated: Sequence[Obj]
                           ) -> tuple[str, list[str]]:
    """The refusing plugin and its reasons for ``info`` as it stands in ``ctx.snapshot``
    or not (a node being tried without some pods), with the pods nominated to it that
    matter to ``ctx.pod`` counted on it."""
    own, priority = pod_key(ctx.pod), pod_priority(ctx.pod)
    extra = [p for p in nominated if pod_key(p) != own and pod_priority(p) >= priority]
    base = ctx if any(n is info for n in ctx.snapshot.nodes) else \
        _with(ctx, replaced(ctx.snapshot, info))
    if extra:
        grown = info.clone()
        for pod in extra:
            grown.add({**pod, "spec": {**(pod.get("spec") or {}), "nodeName": info.name}},
                      "nominated/" + pod_key(pod))
        found = refusal(_with(ctx, replaced(ctx.snapshot, grown)), grown)
        if found[1]:
            return found
    return refusal(base, info)


def refusals(ctx: Context, nominated: Mapping[str, Sequence[Obj]]
             ) -> dict[str, tuple[str, list[str]]]:
    """Each node's refusing plugin and reasons (("", []) when it fits)."""
    return {info.name: refusal_with_nominated(ctx, info, nominated.get(info.name, ()))
            if nominated.get(info.name) else refusal(ctx, info)
            for info in ctx.snapshot.nodes}
