"""kube-scheduler's filter plugins, in its order, each saying why a node does not fit a pod
in the words of its plugin (they make the FailedScheduling message).

As kube-scheduler's framework does, a node's filtering stops at the first plugin that
refuses it; a plugin may give several reasons (NodeResourcesFit: ``Insufficient cpu``,
``Insufficient memory``). https://kubernetes.io/docs/reference/scheduling/config/#scheduling-plugins
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import Obj, labels, namespace, pod_requests
from kompy.client.selectors import matches_labels, selector_from_match
from kompy.cluster.controllers.persistentvolume import claims_of
from kompy.cluster.scheduler import affinity, taints
from kompy.cluster.scheduler.snapshot import NodeInfo, Snapshot, host_ports
from kompy.cluster.scheduler.volumebinding import BIND_CONFLICT, selected_elsewhere

UNSCHEDULABLE = "node(s) were unschedulable"
NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
SPREAD = "node(s) didn't match pod topology spread constraints"
SPREAD_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
# VolumeRestrictions: a claim of access mode ReadWriteOncePod that another pod uses.
RWOP_CONFLICT = ("node has pod using PersistentVolumeClaim with the same name and "
                 "ReadWriteOncePod access mode")
ClaimLookup = Callable[[str, str], Obj | None]


@dataclass
class Context:
    """What the filters of one pod share: the snapshot and the namespaces' labels."""

    pod: Obj
    snapshot: Snapshot
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    claims: ClaimLookup = field(default=lambda _ns, _name: None)
    _spread: dict[int, dict[str, int]] = field(default_factory=dict)
    _rwop: list[set[str]] = field(default_factory=list)

    def rwop_claims(self) -> set[str]:
        """The pod's claims whose access modes include ReadWriteOncePod."""
        if not self._rwop:
            ns = namespace(self.pod)
            self._rwop.append({c for c in claims_of(self.pod) if "ReadWriteOncePod" in (
                ((self.claims(ns, c) or {}).get("spec") or {}).get("accessModes") or [])})
        return self._rwop[0]


Filter = Callable[[Context, NodeInfo], list[str]]


def node_unschedulable(ctx: Context, info: NodeInfo) -> list[str]:
    if not (info.node.get("spec") or {}).get("unschedulable"):
        return []
    probe = {"key": taints.UNSCHEDULABLE, "effect": taints.NO_SCHEDULE}
    if taints.tolerated(probe, taints.pod_tolerations(ctx.pod)):
        return []
    return [UNSCHEDULABLE]


def taint_toleration(ctx: Context, info: NodeInfo) -> list[str]:
    taint = taints.untolerated(taints.node_taints(info.node), taints.pod_tolerations(ctx.pod),
                               (taints.NO_SCHEDULE, taints.NO_EXECUTE))
    return [] if taint is None else [f"node(s) had untolerated taint {taints.describe(taint)}"]


def node_affinity(ctx: Context, info: NodeInfo) -> list[str]:
    return [] if affinity.matches_node_selector(ctx.pod, info.node) else [NODE_AFFINITY]


def node_ports(ctx: Context, info: NodeInfo) -> list[str]:
    wanted = host_ports(ctx.pod)
    if not wanted:
        return []
    for ip, proto, port in wanted:
        for u_ip, u_proto, u_port in info.host_ports:
            if (port, proto) == (u_port, u_proto) and (ip == u_ip or "0.0.0.0" in (ip, u_ip)):
                return [NODE_PORTS]
    return []


def fits(requests: tuple[int, int], used: tuple[int, int], capacity: tuple[int, int],
         pods: int = 0, max_pods: int = 110) -> list[str]:
    """Why a pod does not fit ([] when it does), worded and sorted as kube-scheduler's
    NodeResourcesFit plugin says it; ``pods`` are already on the node, which takes at most
    ``max_pods`` (its ``status.allocatable.pods``)."""
    reasons = []
    if requests[0] and used[0] + requests[0] > capacity[0]:
        reasons.append("Insufficient cpu")
    if requests[1] and used[1] + requests[1] > capacity[1]:
        reasons.append("Insufficient memory")
    if pods + 1 > max_pods:
        reasons.append("Too many pods")
    return sorted(reasons)


def resource_fit(ctx: Context, info: NodeInfo) -> list[str]:
    cpu, memory, max_pods = info.allocatable()
    return fits(pod_requests(ctx.pod), (info.cpu, info.memory), (cpu, memory),
                len(info.pods), max_pods)


def read_write_once_pod(ctx: Context, info: NodeInfo) -> list[str]:
    """VolumeRestrictions: a ReadWriteOncePod claim that a pod anywhere in the cluster uses
    refuses every node (kube-scheduler counts the claim's users over the whole snapshot)."""
    ns = namespace(ctx.pod)
    if any(ctx.snapshot.claim_users(ns, claim) for claim in ctx.rwop_claims()):
        return [RWOP_CONFLICT]
    return []


def volume_binding(ctx: Context, info: NodeInfo) -> list[str]:
    """VolumeBinding's Filter (:mod:`.volumebinding`): a claim selected for another node."""
    return [BIND_CONFLICT] if selected_elsewhere(ctx.pod, info.name, ctx.claims) else []


def claim_being_deleted(ctx: Context) -> str:
    """VolumeBinding's PreFilter: a claim being deleted (Terminating: its pvc-protection
    finalizer waits for its pods) takes no new pod; "" when none is."""
    for claim in claims_of(ctx.pod):
        found = ctx.claims(namespace(ctx.pod), claim)
        if found is not None and (found.get("metadata") or {}).get("deletionTimestamp"):
            return f'persistentvolumeclaim "{claim}" is being deleted'
    return ""


# -- topology spread ------------------------------------------------------------------------
def spread_constraints(pod: Obj, when: str) -> list[dict[str, Any]]:
    return [dict(c) for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
            if (c.get("whenUnsatisfiable") or "DoNotSchedule") == when]


def constraint_selector(pod: Obj, constraint: Mapping[str, Any]) -> list[Any]:
    """The constraint's selector, with ``matchLabelKeys`` turned into requirements on the
    incoming pod's values of those labels."""
    reqs = selector_from_match(constraint.get("labelSelector") or {})
    own = labels(pod)
    for key in constraint.get("matchLabelKeys") or []:
        if key in own:
            reqs += selector_from_match({"matchLabels": {key: own[key]}})
    return reqs


def domain_counts(ctx: Context, constraint: Mapping[str, Any], honour_affinity: bool = True
                  ) -> dict[str, int]:
    """Matching pods (of the pod's namespace) per domain of ``topologyKey``, over the nodes
    that have the key and that the pod's node affinity admits (nodeAffinityPolicy Honor, the
    default)."""
    key = str(constraint.get("topologyKey") or "")
    reqs = constraint_selector(ctx.pod, constraint)
    counts: dict[str, int] = {}
    for info in ctx.snapshot.nodes:
        domain = info.labels.get(key)
        if domain is None:
            continue
        if honour_affinity and (constraint.get("nodeAffinityPolicy") or "Honor") == "Honor" \
                and not affinity.matches_node_selector(ctx.pod, info.node):
            continue
        if (constraint.get("nodeTaintsPolicy") or "Ignore") == "Honor" and taints.untolerated(
                taints.node_taints(info.node), taints.pod_tolerations(ctx.pod),
                (taints.NO_SCHEDULE, taints.NO_EXECUTE)):
            continue
        n = sum(1 for p in info.pods.values() if namespace(p) == namespace(ctx.pod) and
                not (p.get("metadata") or {}).get("deletionTimestamp") and
                bool(reqs) and matches_labels(reqs, labels(p)))
        counts[domain] = counts.get(domain, 0) + n
    return counts


def topology_spread(ctx: Context, info: NodeInfo) -> list[str]:
    for i, constraint in enumerate(spread_constraints(ctx.pod, "DoNotSchedule")):
        key = str(constraint.get("topologyKey") or "")
        domain = info.labels.get(key)
        if domain is None:
            return [SPREAD_LABEL]
        counts = ctx._spread.get(i)
        if counts is None:
            counts = ctx._spread[i] = domain_counts(ctx, constraint)
        reqs = constraint_selector(ctx.pod, constraint)
        self_match = 1 if reqs and matches_labels(reqs, labels(ctx.pod)) else 0
        lowest = min(counts.values()) if counts else 0
        min_domains = int(constraint.get("minDomains") or 1)
        if len(counts) < min_domains:
            lowest = 0
        skew = counts.get(domain, 0) + self_match - lowest
        if skew > int(constraint.get("maxSkew") or 1):
            return [SPREAD]
    return []


# -- inter-pod affinity -----------------------------------------------------------------------
def _same_domain(a: NodeInfo, b: NodeInfo, key: str) -> bool:
    value = a.labels.get(key)
    return value is not None and b.labels.get(key) == value


def inter_pod_affinity(ctx: Context, info: NodeInfo) -> list[str]:
    pod, snap, ns_labels = ctx.pod, ctx.snapshot, ctx.namespace_labels
    for other_node, other in snap.anti_affinity_pods():
        for term in affinity.pod_affinity_terms(other, "podAntiAffinity", True):
            if _same_domain(info, other_node, str(term.get("topologyKey") or "")) and \
                    affinity.pod_term_matches(term, other, pod, ns_labels):
                return [EXISTING_ANTI_AFFINITY]
    required = affinity.pod_affinity_terms(pod, "podAffinity", True)
    if required:
        satisfied = all(any(
            _same_domain(info, other_node, str(term.get("topologyKey") or "")) and
            affinity.pod_term_matches(term, pod, other, ns_labels)
            for other_node, other in snap.all_pods()) for term in required)
        if not satisfied:
            # The first pod of a group that wants to be with its own kind may go anywhere
            # the key exists, when no pod anywhere matches the terms.
            anyone = any(affinity.pod_term_matches(term, pod, other, ns_labels)
                         for term in required for _, other in snap.all_pods())
            self_ok = all(affinity.pod_term_matches(term, pod, pod, ns_labels)
                          for term in required)
            has_keys = all(str(t.get("topologyKey") or "") in info.labels for t in required)
            if anyone or not self_ok or not has_keys:
                return [AFFINITY]
    for term in affinity.pod_affinity_terms(pod, "podAntiAffinity", True):
        for other_node, other in snap.all_pods():
            if _same_domain(info, other_node, str(term.get("topologyKey") or "")) and \
                    affinity.pod_term_matches(term, pod, other, ns_labels):
                return [ANTI_AFFINITY]
    return []


# Each filter with the name of kube-scheduler's plugin it plays: the scheduling queue keeps
# the plugins that refused a pod, and only cluster events those plugins care about move it
# back to be tried again (see :mod:`.hints`).
FILTERS: tuple[tuple[str, Filter], ...] = (
    ("NodeUnschedulable", node_unschedulable), ("TaintToleration", taint_toleration),
    ("NodeAffinity", node_affinity), ("NodePorts", node_ports),
    ("NodeResourcesFit", resource_fit), ("VolumeRestrictions", read_write_once_pod),
    ("VolumeBinding", volume_binding), ("PodTopologySpread", topology_spread),
    ("InterPodAffinity", inter_pod_affinity))
# VolumeBinding's PreFilter (a claim missing, unbound Immediate or being deleted), which
# refuses the pod on every node.
VOLUME_BINDING = "VolumeBinding"


def refusal(ctx: Context, info: NodeInfo) -> tuple[str, list[str]]:
    """The plugin that refuses the node and its reasons; ("", []) when the node fits."""
    for plugin, check in FILTERS:
        found = check(ctx, info)
        if found:
            return plugin, found
    return "", []


def reasons_for(ctx: Context, info: NodeInfo) -> list[str]:
    """Why the node cannot take the pod; [] when it can."""
    return refusal(ctx, info)[1]


def fit_error(total: int, reasons: Mapping[str, Sequence[str]], pre_filter: str = "",
              absent: str = "") -> str:
    """kube-scheduler's FitError: ``0/3 nodes are available: 1 Insufficient cpu, 2 node(s)
    didn't match Pod's node affinity/selector.``, each reason counted over nodes and sorted
    as text; nodes missing from ``reasons`` count as ``absent``; a PreFilter's refusal
    (``pre_filter``) is said instead of the nodes'."""
    counts: dict[str, int] = {}
    for node_reasons in reasons.values():
        for reason in node_reasons:
            counts[reason] = counts.get(reason, 0) + 1
    if absent and total > len(reasons):
        counts[absent] = counts.get(absent, 0) + total - len(reasons)
    parts = sorted(f"{n} {reason}" for reason, n in counts.items())
    message = f"0/{total} nodes are available"
    if pre_filter:  # a PreFilter refused the pod before any node was looked at
        message += ": " + pre_filter
    elif parts:
        message += ": " + ", ".join(parts)
    return message + "."


def failure_message(total: int, reasons: Mapping[str, Sequence[str]], pre_filter: str = "",
                    post_filter: str = "") -> str:
    """The FailedScheduling message: the FitError, then what preemption (the PostFilter,
    :mod:`.preemption`) said, ``preemption: ...``, unless it found a node."""
    message = fit_error(total, reasons, pre_filter)
    return f"{message} {post_filter}" if post_filter else message
