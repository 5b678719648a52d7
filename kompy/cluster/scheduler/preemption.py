"""kube-scheduler's DefaultPreemption PostFilter: what to evict, and where, so that a pod no
node takes can run (pkg/scheduler/framework/preemption, plugins/defaultpreemption).

Run when every node refused the pod. In upstream's order:

1. Eligibility. A pod whose ``preemptionPolicy`` is ``Never`` preempts nobody; nor does one
   whose nominated node still has a lower-priority pod terminating because of preemption
   (its victims are on their way out: it waits for them rather than evict more).
2. Candidates. Only nodes whose refusal preemption can cure are tried: a refusal is
   *unresolvable* (kube-scheduler's UnschedulableAndUnresolvable) when no eviction changes
   it: an unschedulable node, an untolerated taint, node affinity, a missing topology label,
   unmet pod affinity, a claim bound elsewhere, a request larger than the node's whole
   allocatable. On each other node every pod of lower priority is taken away; if the pod
   still does not fit there, the node is no candidate. Otherwise the victims are chosen by
   *reprieve*: most important first (higher priority, then the one started earlier), each
   pod is put back and stays if the pod still fits; pods whose PodDisruptionBudget allows no
   more disruptions are tried first, so they are spared when possible, and those not spared
   count as violations.
3. The node. Among the candidates: fewest PDB violations, then the lowest highest-victim
   priority, then the smallest sum of priorities, then fewest victims, then the latest
   start of the highest-priority victims; then the first (non-violating candidates first).

The scheduler then nominates the node (``status.nominatedNodeName``) and deletes the victims
gracefully, each first marked with the condition DisruptionTarget (reason
PreemptionByScheduler) and given a ``Preempted`` event.

When no node is a candidate, the FailedScheduling message says why for each node, as
upstream's: ``preemption: 0/3 nodes are available: 1 No preemption victims found for
incoming pod, 2 Preemption is not helpful for scheduling.``. Upstream dry-runs at most
max(10 %, 100) of the nodes from a random offset; here every node is tried (kompy's
clusters have a few).
https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#preemption
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kompy.client.objects import Obj, labels, name, namespace, pod_requests
from kompy.client.selectors import matches_labels, selector_from_match
from kompy.cluster.scheduler import filters
from kompy.cluster.scheduler.filters import Context
from kompy.cluster.scheduler.nominator import pod_priority, refusal_with_nominated
from kompy.cluster.scheduler.snapshot import NodeInfo, Snapshot

NEVER = "not eligible due to preemptionPolicy=Never."
WAITING = "not eligible due to a terminating pod on the nominated node."
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
# The DisruptionTarget condition's reason on a victim (v1.PodReasonPreemptionByScheduler).
REASON = "PreemptionByScheduler"
# The plugins whose refusals no eviction can change (they answer UnschedulableAndUnresolvable).
_UNRESOLVABLE_PLUGINS = frozenset({"NodeUnschedulable", "TaintToleration", "NodeAffinity",
                                   "VolumeBinding"})
_UNRESOLVABLE_REASONS = frozenset({filters.SPREAD_LABEL, filters.AFFINITY})

Refusals = Mapping[str, tuple[str, list[str]]]


@dataclass(frozen=True)
class Candidate:
    node: str
    victims: tuple[Obj, ...]        # most important first
    pdb_violations: int = 0


@dataclass(frozen=True)
class Outcome:
    """What preemption made of the pod: the ``preemption: ...`` part of its FailedScheduling
    message ("" when a node was found), the candidate to act on, and the nominated node to
    write (the candidate's; "" to clear it; None to leave it as it is)."""

    message: str
    candidate: Candidate | None = None
    nominate: str | None = None


def _start(pod: Obj) -> str:
    """``status.startTime`` as it sorts (RFC 3339 in UTC); a pod not started yet counts as
    starting now, later than any other (util.GetPodStartTime)."""
    return str((pod.get("status") or {}).get("startTime") or "~")


def more_important(a: Obj, b: Obj) -> bool:
    """util.MoreImportantPod: higher priority, then the one started earlier."""
    pa, pb = pod_priority(a), pod_priority(b)
    return pa > pb if pa != pb else _start(a) < _start(b)


def _by_importance(a: tuple[str, Obj], b: tuple[str, Obj]) -> int:
    return -1 if more_important(a[1], b[1]) else 1 if more_important(b[1], a[1]) else 0


_importance = functools.cmp_to_key(_by_importance)


def terminating_by_preemption(pod: Obj) -> bool:
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "DisruptionTarget" and c.get("status") == "True"
               and c.get("reason") == REASON
               for c in (pod.get("status") or {}).get("conditions") or [])


def resolvable(requests: tuple[int, int], info: NodeInfo, plugin: str,
               reasons: Sequence[str]) -> bool:
    """Whether evicting pods could make the node take a pod of these ``requests`` (its
    refusal is Unschedulable, not UnschedulableAndUnresolvable)."""
    if not reasons or plugin in _UNRESOLVABLE_PLUGINS or \
            any(r in _UNRESOLVABLE_REASONS for r in reasons):
        return False
    if plugin == "NodeResourcesFit":
        cpu, memory = requests
        allocatable = info.allocatable()
        return not (cpu > allocatable[0] or memory > allocatable[1])
    return True


def _requests(pod: Obj) -> tuple[int, int]:
    try:
        return pod_requests(pod)
    except ValueError:  # a request that is not a quantity: the filters said so already
        return 0, 0


def ineligible(pod: Obj, snapshot: Snapshot, refused: Refusals) -> str:
    """Why the pod may not preempt ("" when it may): PodEligibleToPreemptOthers."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return NEVER
    nominated = str((pod.get("status") or {}).get("nominatedNodeName") or "")
    if not nominated:
        return ""
    info = next((n for n in snapshot.nodes if n.name == nominated), None)
    if info is None or nominated not in refused or not resolvable(
            _requests(pod), info, *refused[nominated]):
        return ""   # the nominated node cannot help any more: preempt elsewhere
    priority = pod_priority(pod)
    if any(pod_priority(p) < priority and terminating_by_preemption(p)
           for p in info.pods.values()):
        return WAITING
    return ""


def split_by_budget(pods: Sequence[tuple[str, Obj]], budgets: Sequence[Obj]
                    ) -> tuple[list[tuple[str, Obj]], list[tuple[str, Obj]]]:
    """(violating, non-violating), order kept: a pod violates when a PodDisruptionBudget
    of its namespace that selects it has no disruption left for it
    (filterPodsWithPDBViolation; a budget's selector that is empty matches nothing, and a
    pod the budget already counts as disrupted is not counted twice)."""
    allowed = [int((b.get("status") or {}).get("disruptionsAllowed") or 0) for b in budgets]
    violating: list[tuple[str, Obj]] = []
    spared: list[tuple[str, Obj]] = []
    for key, pod in pods:
        violates = False
        own = labels(pod)
        for i, budget in enumerate(budgets if own else ()):
            selector = (budget.get("spec") or {}).get("selector") or {}
            if namespace(budget) != namespace(pod) or not selector:
                continue
            try:
                reqs = selector_from_match(selector)
            except ValueError:
                continue
            if not reqs or not matches_labels(reqs, own):
                continue
            if name(pod) in ((budget.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                violates = True
        (violating if violates else spared).append((key, pod))
    return violating, spared


def select_victims(ctx: Context, info: NodeInfo, budgets: Sequence[Obj],
                   nominated: Sequence[Obj] = ()) -> tuple[Candidate | None, list[str]]:
    """SelectVictimsOnNode: the fewest pods to evict from ``info`` for ``ctx.pod`` to fit,
    or None and why not (the reasons that go in the message)."""
    priority = pod_priority(ctx.pod)
    potential = [(k, p) for k, p in info.pods.items() if pod_priority(p) < priority]
    if not potential:
        return None, [NO_VICTIMS]
    work = info.clone()
    for key, _ in potential:
        work.remove(key)
    _, reasons = refusal_with_nominated(ctx, work, nominated)
    if reasons:
        return None, reasons
    potential.sort(key=_importance)
    violating, spared = split_by_budget(potential, budgets)
    victims: list[tuple[str, Obj]] = []
    violations = 0
    for group, counted in ((violating, True), (spared, False)):
        for key, pod in group:
            work.add(pod, key)
            if refusal_with_nominated(ctx, work, nominated)[1]:
                work.remove(key)
                victims.append((key, pod))
                violations += counted
    if violating and spared:
        victims.sort(key=_importance)
    return Candidate(info.name, tuple(p for _, p in victims), violations), []


def _highest_start(victims: Sequence[Obj]) -> str:
    """The earliest start among the highest-priority victims (GetEarliestPodStartTime)."""
    top = max(pod_priority(p) for p in victims)
    return min(_start(p) for p in victims if pod_priority(p) == top)


def pick(candidates: Sequence[Candidate]) -> Candidate:
    """pickOneNodeForPreemption: each rule keeps the best; the next breaks their tie."""
    rules = (
        lambda c: -c.pdb_violations,
        lambda c: -pod_priority(c.victims[0]),
        lambda c: -sum(pod_priority(p) + 2**31 for p in c.victims),
        lambda c: -len(c.victims),
    )
    left = list(candidates)
    for rule in rules:
        best = max(rule(c) for c in left)
        left = [c for c in left if rule(c) == best]
        if len(left) == 1:
            return left[0]
    latest = max(_highest_start(c.victims) for c in left)
    return next(c for c in left if _highest_start(c.victims) == latest)


def post_filter(ctx: Context, refused: Refusals, budgets: Sequence[Obj] = (),
                nominated: Mapping[str, Sequence[Obj]] | None = None) -> Outcome:
    """DefaultPreemption's PostFilter for ``ctx.pod``, which every node refused as
    ``refused`` says (node -> (plugin, reasons); nodes absent were refused before any
    filter, by a PreFilter)."""
    snapshot, nominated = ctx.snapshot, nominated or {}
    why = ineligible(ctx.pod, snapshot, refused)
    if why:
        return Outcome("preemption: " + why)
    tried: dict[str, list[str]] = {}
    fine: list[Candidate] = []
    violating: list[Candidate] = []
    requests = _requests(ctx.pod)
    for info in snapshot.nodes:
        plugin, reasons = refused.get(info.name, ("", []))
        if not resolvable(requests, info, plugin, reasons):
            continue
        found, why_not = select_victims(ctx, info, budgets, nominated.get(info.name, ()))
        if found is None:
            tried[info.name] = why_not
        else:
            (violating if found.pdb_violations else fine).append(found)
    if not fine and not violating:
        return Outcome("preemption: " + filters.fit_error(len(snapshot.nodes), tried,
                                                             absent=NOT_HELPFUL),
                       nominate="")
    best = pick(fine + violating)
    return Outcome("", best, best.node)


__all__ = ["NEVER", "NOT_HELPFUL", "NO_VICTIMS", "REASON", "WAITING", "Candidate", "Outcome",
           "ineligible", "more_important", "pick", "post_filter", "resolvable",
           "select_victims", "split_by_budget"]
