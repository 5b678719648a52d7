"""kube-scheduler's default score plugins, each giving every feasible node 0..100, summed
with the default weights (TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
InterPodAffinity 2, NodeResourcesFit 1, NodeResourcesBalancedAllocation 1).

Pods that declare no topology spread constraints are spread by the system defaults
(``kubernetes.io/hostname`` maxSkew 3 and ``topology.kubernetes.io/zone`` maxSkew 5,
ScheduleAnyway) over the pods of the same owner, as the defaults' selector built from the
pod's ReplicaSet, StatefulSet or Service selects them.
https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#internal-default-constraints
"""

from __future__ import annotations

import math
from collections.abc import Callable

from kompy.client.objects import Obj, controller_ref, namespace, pod_requests
from kompy.cluster.scheduler import affinity, taints
from kompy.cluster.scheduler.filters import Context, domain_counts, spread_constraints
from kompy.cluster.scheduler.snapshot import NodeInfo, scoring_requests

MAX = 100
HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"

Score = Callable[[Context, list[NodeInfo]], dict[str, float]]


def _scoring_requests(pod: Obj) -> tuple[int, int]:
    try:
        return scoring_requests(pod_requests(pod))
    except ValueError:
        return scoring_requests((0, 0))


def _normalize(raw: dict[str, float], reverse: bool = False) -> dict[str, float]:
    """Scale to 0..MAX by the highest value (the framework's DefaultNormalizeScore)."""
    top = max(raw.values(), default=0.0)
    if top <= 0:
        return {k: (MAX if reverse else 0.0) for k in raw}
    return {k: (MAX - v * MAX / top) if reverse else v * MAX / top for k, v in raw.items()}


def least_allocated(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    cpu, mem = _scoring_requests(ctx.pod)
    out = {}
    for info in nodes:
        alloc_cpu, alloc_mem, _ = info.allocatable()
        used_cpu = info.nonzero_cpu + cpu
        used_mem = info.nonzero_memory + mem
        parts = [max(a - u, 0) * MAX / a for a, u in ((alloc_cpu, used_cpu),
                                                       (alloc_mem, used_mem)) if a > 0]
        out[info.name] = sum(parts) / len(parts) if parts else 0.0
    return out


def balanced_allocation(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    cpu, mem = _scoring_requests(ctx.pod)
    out = {}
    for info in nodes:
        alloc_cpu, alloc_mem, _ = info.allocatable()
        if alloc_cpu <= 0 or alloc_mem <= 0:
            out[info.name] = 0.0
            continue
        fc = min((info.cpu + cpu) / alloc_cpu, 1.0)
        fm = min((info.memory + mem) / alloc_mem, 1.0)
        out[info.name] = (1 - abs(fc - fm) / 2) * MAX
    return out


def taint_toleration(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    tolerations = taints.pod_tolerations(ctx.pod)
    raw = {info.name: float(sum(1 for t in taints.node_taints(info.node)
                                if t.get("effect") == taints.PREFER_NO_SCHEDULE and
                                not taints.tolerated(t, tolerations))) for info in nodes}
    return _normalize(raw, reverse=True)


def node_affinity(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    return _normalize({info.name: float(affinity.preferred_node_score(ctx.pod, info.node))
                       for info in nodes})


def _default_constraints(pod: Obj) -> list[dict[str, object]]:
    owner = controller_ref(pod)
    if owner is None:
        return []
    return [{"topologyKey": HOSTNAME, "maxSkew": 3, "owner": owner.get("uid")},
            {"topologyKey": ZONE, "maxSkew": 5, "owner": owner.get("uid")}]


def _owner_counts(ctx: Context, key: str, owner_uid: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    owner = (namespace(ctx.pod), owner_uid)
    for info in ctx.snapshot.nodes:
        domain = info.labels.get(key)
        if domain is None:
            continue
        counts[domain] = counts.get(domain, 0) + info.owners.get(owner, 0)
    return counts


def topology_spread(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    """Fewer matching pods in a node's domains scores higher; each constraint weighs by
    log(domains + 2), as upstream's scoring does."""
    constraints: list[tuple[str, dict[str, int]]] = []
    explicit = spread_constraints(ctx.pod, "ScheduleAnyway")
    if explicit:
        constraints = [(str(c.get("topologyKey") or ""), domain_counts(ctx, c))
                       for c in explicit]
    elif not (ctx.pod.get("spec") or {}).get("topologySpreadConstraints"):
        constraints = [(str(c["topologyKey"]), _owner_counts(ctx, str(c["topologyKey"]),
                                                             c["owner"]))
                       for c in _default_constraints(ctx.pod)]
    if not constraints:
        return {info.name: 0.0 for info in nodes}
    raw = {}
    for info in nodes:
        total = 0.0
        for key, counts in constraints:
            domain = info.labels.get(key)
            if domain is not None:
                total += counts.get(domain, 0) * math.log(len(counts) + 2)
        raw[info.name] = total
    return _normalize(raw, reverse=True)


def inter_pod_affinity(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    """Preferred pod affinity adds, preferred anti-affinity subtracts, the term's weight for
    each matching pod in the node's domain; scaled to 0..MAX between the lowest and highest."""
    pod = ctx.pod
    terms = [(int(t.get("weight") or 0), t.get("podAffinityTerm") or {})
             for t in affinity.pod_affinity_terms(pod, "podAffinity", False)]
    terms += [(-int(t.get("weight") or 0), t.get("podAffinityTerm") or {})
              for t in affinity.pod_affinity_terms(pod, "podAntiAffinity", False)]
    if not terms:
        return {info.name: 0.0 for info in nodes}
    raw = {}
    for info in nodes:
        total = 0.0
        for weight, term in terms:
            key = str(term.get("topologyKey") or "")
            value = info.labels.get(key)
            if value is None:
                continue
            for other_node, other in ctx.snapshot.all_pods():
                if other_node.labels.get(key) == value and \
                        affinity.pod_term_matches(term, pod, other, ctx.namespace_labels):
                    total += weight
        raw[info.name] = total
    low, high = min(raw.values()), max(raw.values())
    if high == low:
        return {k: 0.0 for k in raw}
    return {k: (v - low) * MAX / (high - low) for k, v in raw.items()}


WEIGHTED: tuple[tuple[Score, int], ...] = (
    (taint_toleration, 3), (node_affinity, 2), (topology_spread, 2), (inter_pod_affinity, 2),
    (least_allocated, 1), (balanced_allocation, 1))


def score(ctx: Context, nodes: list[NodeInfo]) -> dict[str, float]:
    """Each feasible node's weighted sum."""
    totals = {info.name: 0.0 for info in nodes}
    if len(nodes) < 2:
        return totals
    for plugin, weight in WEIGHTED:
        for node, value in plugin(ctx, nodes).items():
            totals[node] += value * weight
    return totals


__all__ = ["score"]
