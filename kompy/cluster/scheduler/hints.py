"""Cluster events and queueing hints: which changes may let a pod that some filter plugins
refused onto a node (kube-scheduler's ClusterEvent, EventsToRegister and QueueingHintFn).

An event is a resource and an action (``NodeAdd``, ``NodeUpdateNodeAllocatable``,
``AssignedPodDelete``, ...). Each plugin names the events that can undo its refusal, and for
each a hint that looks at the object before and after and says whether this pod may now
fit. A pod waiting as unschedulable moves back to be tried when one of the plugins that
refused it says so; an event no refusing plugin cares about leaves it where it is (a pod
waiting for a node label is not tried again because some pod was deleted).

The hints err on the side of trying again: a wasted attempt costs a cycle, a missed one
leaves a pod Pending (up to the queue's 5-minute flush).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kompy.client.objects import Obj, labels, namespace, pod_requests
from kompy.client.selectors import matches_labels
from kompy.cluster.controllers.persistentvolume import claims_of
from kompy.cluster.scheduler import affinity, taints
from kompy.cluster.scheduler.filters import constraint_selector, spread_constraints
from kompy.cluster.scheduler.snapshot import NodeInfo, host_ports

NODE, ASSIGNED_POD, CLAIM, UNSCHEDULED_POD = (
    "Node", "AssignedPod", "PersistentVolumeClaim", "UnscheduledPod")
ADD, DELETE, UPDATE = "Add", "Delete", "Update"
UPDATE_ALLOCATABLE, UPDATE_NODE_LABEL, UPDATE_TAINT = (
    "UpdateNodeAllocatable", "UpdateNodeLabel", "UpdateNodeTaint")
UPDATE_POD_LABEL = "UpdatePodLabel"

# A pseudo-plugin for a cluster without nodes: only a node coming helps.
NO_NODES = "NoNodes"


@dataclass(frozen=True)
class ClusterEvent:
    resource: str
    action: str

    def __str__(self) -> str:
        return f"{self.resource}{self.action}"


# -- what changed ------------------------------------------------------------------------------
def _taint_state(node: Obj) -> tuple[object, bool]:
    return taints.node_taints(node), bool((node.get("spec") or {}).get("unschedulable"))


def _allocatable(node: Obj) -> object:
    status = node.get("status") or {}
    return status.get("allocatable") or status.get("capacity") or {}


def node_events(old: Obj | None, new: Obj | None) -> list[ClusterEvent]:
    """The events of a node's change (none for a heartbeat or a condition)."""
    if old is None:
        return [ClusterEvent(NODE, ADD)] if new is not None else []
    if new is None:
        return [ClusterEvent(NODE, DELETE)]
    out = []
    if _allocatable(old) != _allocatable(new):
        out.append(ClusterEvent(NODE, UPDATE_ALLOCATABLE))
    if labels(old) != labels(new):
        out.append(ClusterEvent(NODE, UPDATE_NODE_LABEL))
    if _taint_state(old) != _taint_state(new):
        out.append(ClusterEvent(NODE, UPDATE_TAINT))
    return out


def assigned_pod_events(old: Obj | None, new: Obj | None) -> list[ClusterEvent]:
    """The events of a bound pod's change: it came, went (deleted or finished: either way
    it no longer counts on its node), or changed its labels."""
    if new is None:
        return [ClusterEvent(ASSIGNED_POD, DELETE)] if old is not None else []
    if old is None:
        return [ClusterEvent(ASSIGNED_POD, ADD)]
    if labels(old) != labels(new):
        return [ClusterEvent(ASSIGNED_POD, UPDATE_POD_LABEL)]
    return []


# -- the hints: (the waiting pod, the event, old, new) -> worth trying again -------------------
Hint = Callable[[Obj, ClusterEvent, Obj | None, Obj | None], bool]


def _unschedulable_hint(pod: Obj, _event: ClusterEvent, old: Obj | None, new: Obj | None
                        ) -> bool:
    if new is None:
        return False
    if not (new.get("spec") or {}).get("unschedulable"):
        return old is None or bool((old.get("spec") or {}).get("unschedulable"))
    probe = {"key": taints.UNSCHEDULABLE, "effect": taints.NO_SCHEDULE}
    return taints.tolerated(probe, taints.pod_tolerations(pod))


def _untolerated(pod: Obj, node: Obj) -> bool:
    return taints.untolerated(taints.node_taints(node), taints.pod_tolerations(pod),
                              (taints.NO_SCHEDULE, taints.NO_EXECUTE)) is not None


def _taint_hint(pod: Obj, _event: ClusterEvent, old: Obj | None, new: Obj | None) -> bool:
    return new is not None and not _untolerated(pod, new) and (
        old is None or _untolerated(pod, old))


def _node_affinity_hint(pod: Obj, _event: ClusterEvent, old: Obj | None, new: Obj | None
                        ) -> bool:
    return new is not None and affinity.matches_node_selector(pod, new) and (
        old is None or not affinity.matches_node_selector(pod, old))


def _fits_empty(pod: Obj, node: Obj) -> bool:
    """Whether the pod's requests fit the node's allocatable at all."""
    cpu, memory, max_pods = NodeInfo(node).allocatable()
    try:
        want_cpu, want_memory = pod_requests(pod)
    except ValueError:
        return True
    return want_cpu <= cpu and want_memory <= memory and max_pods > 0


def _resources_hint(pod: Obj, event: ClusterEvent, old: Obj | None, new: Obj | None) -> bool:
    if event.resource == ASSIGNED_POD:
        return event.action == DELETE      # any bound pod that goes frees room
    if new is None or not _fits_empty(pod, new):
        return False
    if old is None:
        return True
    before, after = NodeInfo(old).allocatable(), NodeInfo(new).allocatable()
    return any(b > a for a, b in zip(before, after, strict=True))


def _ports_hint(pod: Obj, event: ClusterEvent, old: Obj | None, _new: Obj | None) -> bool:
    if event.resource == NODE:
        return True
    wanted = {(proto, port) for _, proto, port in host_ports(pod)}
    return old is not None and any((proto, port) in wanted for _, proto, port in host_ports(old))


def _uses_claims(pod: Obj, other: Obj | None) -> bool:
    if other is None or namespace(other) != namespace(pod):
        return False
    return bool(set(claims_of(pod)) & set(claims_of(other)))


def _claim_named(pod: Obj, old: Obj | None, new: Obj | None) -> bool:
    claim = new if new is not None else old
    if claim is None or namespace(claim) != namespace(pod):
        return False
    return str((claim.get("metadata") or {}).get("name")) in claims_of(pod)


def _volume_restrictions_hint(pod: Obj, event: ClusterEvent, old: Obj | None,
                              new: Obj | None) -> bool:
    if event.resource == ASSIGNED_POD:
        return _uses_claims(pod, old)
    return _claim_named(pod, old, new)


def _volume_binding_hint(pod: Obj, _event: ClusterEvent, old: Obj | None, new: Obj | None
                         ) -> bool:
    return _claim_named(pod, old, new)


def _spread_hint(pod: Obj, event: ClusterEvent, old: Obj | None, new: Obj | None) -> bool:
    if event.resource == NODE:
        return True
    for other in (old, new):
        if other is None or namespace(other) != namespace(pod):
            continue
        for constraint in spread_constraints(pod, "DoNotSchedule"):
            reqs = constraint_selector(pod, constraint)
            if reqs and matches_labels(reqs, labels(other)):
                return True
    return False


def _inter_pod_hint(pod: Obj, event: ClusterEvent, old: Obj | None, new: Obj | None) -> bool:
    if event.resource == NODE:
        return True
    # Namespace selectors are matched as if every namespace had no labels: a term that needs
    # them errs towards trying again (an empty selector matches).
    terms = (affinity.pod_affinity_terms(pod, "podAffinity", True) +
             affinity.pod_affinity_terms(pod, "podAntiAffinity", True))
    for other in (old, new):
        if other is None:
            continue
        if affinity.pod_affinity_terms(other, "podAntiAffinity", True):
            return True                    # an existing pod's anti-affinity may have gone
        if any(affinity.pod_term_matches(t, pod, other, {}) for t in terms):
            return True
    return False


def _any_node(_pod: Obj, _event: ClusterEvent, _old: Obj | None, new: Obj | None) -> bool:
    return new is not None


def _ev(resource: str, *actions: str) -> list[ClusterEvent]:
    return [ClusterEvent(resource, a) for a in actions]


# Each plugin's events and its hint for them (upstream's EventsToRegister).
REGISTERED: dict[str, tuple[list[ClusterEvent], Hint]] = {
    "NodeUnschedulable": (_ev(NODE, ADD, UPDATE_TAINT), _unschedulable_hint),
    "TaintToleration": (_ev(NODE, ADD, UPDATE_TAINT), _taint_hint),
    "NodeAffinity": (_ev(NODE, ADD, UPDATE_NODE_LABEL), _node_affinity_hint),
    "NodePorts": (_ev(NODE, ADD) + _ev(ASSIGNED_POD, DELETE), _ports_hint),
    "NodeResourcesFit": (_ev(NODE, ADD, UPDATE_ALLOCATABLE) + _ev(ASSIGNED_POD, DELETE),
                         _resources_hint),
    "VolumeRestrictions": (_ev(ASSIGNED_POD, DELETE) + _ev(CLAIM, ADD, UPDATE),
                           _volume_restrictions_hint),
    "VolumeBinding": (_ev(CLAIM, ADD, UPDATE, DELETE), _volume_binding_hint),
    "PodTopologySpread": (_ev(NODE, ADD, DELETE, UPDATE_NODE_LABEL, UPDATE_TAINT) +
                          _ev(ASSIGNED_POD, ADD, DELETE, UPDATE_POD_LABEL), _spread_hint),
    "InterPodAffinity": (_ev(NODE, ADD, UPDATE_NODE_LABEL) +
                         _ev(ASSIGNED_POD, ADD, DELETE, UPDATE_POD_LABEL), _inter_pod_hint),
    NO_NODES: (_ev(NODE, ADD), _any_node),
}


_INTERESTING = frozenset(e for events, _ in REGISTERED.values() for e in events)


def interesting(event: ClusterEvent) -> bool:
    """Whether any plugin cares about the event (else nothing need be looked at)."""
    return event.resource == UNSCHEDULED_POD or event in _INTERESTING


def worth_requeuing(pod: Obj, plugins: Iterable[str], event: ClusterEvent,
                    old: Obj | None, new: Obj | None) -> bool:
    """Whether the event may let ``pod``, which ``plugins`` refused, onto a node."""
    plugins = list(plugins)
    if not plugins:
        return True                        # refused by no plugin: an error; try again
    if event.resource == UNSCHEDULED_POD:  # the pod itself changed while being tried
        return new is not None and (new.get("metadata") or {}).get("uid") == (
            pod.get("metadata") or {}).get("uid")
    for plugin in plugins:
        registered = REGISTERED.get(plugin)
        if registered is None:
            return True                    # a plugin without hints: any event may help
        events, hint = registered
        if event in events and hint(pod, event, old, new):
            return True
    return False
