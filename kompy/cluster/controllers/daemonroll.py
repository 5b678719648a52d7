"""The DaemonSet controller's decisions, as pure functions of the pods on each node.

As pkg/controller/daemon upstream: :func:`manage_node` is ``podsShouldBeOnNode`` (one pod
per node that should run one, failed and surplus pods deleted, none left on nodes that
should not run one), :func:`rolling_plan` is ``rollingUpdate`` in update.go (old pods go,
or new pods are made beside them, within ``maxUnavailable``/``maxSurge``), and
:func:`status_counts` is ``updateDaemonSetStatus``'s tally. Every pod here belongs to the
DaemonSet; a pod is *new* when its ``controller-revision-hash`` label is the current
template's hash. https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import Obj, labels, meta, name, pod_ready, pod_terminal, terminating
from kompy.cluster.controllers.availability import pod_available
from kompy.cluster.controllers.rollout import scaled_value

HASH_LABEL = "controller-revision-hash"


@dataclass
class Plan:
    """What one sync does: pods to delete (by name) and nodes to make a pod on."""

    delete: list[str] = field(default_factory=list)
    create: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delete or self.create)


def rolling(ds: Mapping[str, Any]) -> dict[str, Any] | None:
    """``spec.updateStrategy.rollingUpdate`` of a RollingUpdate DaemonSet, else None."""
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return dict(strategy.get("rollingUpdate") or {})


def budgets(ds: Mapping[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in nodes: util.SurgeCount and util.UnavailableCount, both
    percentages of ``desired`` rounded up; 0 and 0 (which validation refuses) is taken as
    maxUnavailable 1, as updatedDesiredNodeCounts does."""
    update = rolling(ds)
    if update is None:
        return 0, 0
    surge = scaled_value(update.get("maxSurge", 0) or 0, desired, round_up=True)
    unavailable = scaled_value(update.get("maxUnavailable", 1) or 0, desired, round_up=True)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_new(pod: Mapping[str, Any], pod_hash: str) -> bool:
    return labels(pod).get(HASH_LABEL) == pod_hash


def by_age(pods: Iterable[Obj]) -> list[Obj]:
    """Oldest first, ties by name (podByCreationTimestampAndPhase; every pod is bound)."""
    return sorted(pods, key=lambda p: (str(meta(p).get("creationTimestamp") or ""), name(p)))


def _any_ended(pod: Obj) -> bool:
    return True


def manage_node(pods: list[Obj], should_run: bool, pod_hash: str, surge: bool,
                min_ready: int, now: float,
                ended: Callable[[Obj], bool] = _any_ended,
                should_continue: bool | None = None) -> Plan:
    """podsShouldBeOnNode for one node, given every pod of the set on it (terminating
    ones included: without surge a node gets its new pod only once the old one is gone).
    ``should_run``: a new pod belongs there; ``should_continue`` (default: the same): a pod
    there may stay (upstream's shouldContinueRunning: a node tainted NoSchedule after its
    daemon started keeps it, as only an untolerated NoExecute taint evicts).
    A pod that ended (Failed or Succeeded) goes if ``ended(pod)`` says so: the controller
    holds a failed one within its node's back-off. Held, it is neither running nor gone:
    without surge the node gets no new pod meanwhile, with surge it gets one beside it."""
    plan = Plan()
    if not (should_run if should_continue is None else should_continue):
        plan.delete += [name(p) for p in pods if not terminating(p)]
        return plan
    if not pods:
        if should_run:
            plan.create.append("")
        return plan
    running = []
    for pod in pods:
        if terminating(pod):
            continue
        if pod_terminal(pod):
            if ended(pod):
                plan.delete.append(name(pod))
        else:
            running.append(pod)
    running = by_age(running)
    if not surge:
        plan.delete += [name(p) for p in running[1:]]
        return plan
    if not running:
        if should_run:
            plan.create.append("")  # surging: a node always has one pod not being deleted
        return plan
    oldest_new = next((p for p in running if is_new(p, pod_hash)), None)
    oldest_old = next((p for p in running if not is_new(p, pod_hash)), None)
    plan.delete += [name(p) for p in running if p is not oldest_new and p is not oldest_old]
    if oldest_new is not None and oldest_old is not None and (
            not pod_ready(oldest_old) or pod_available(oldest_new, min_ready, now)):
        plan.delete.append(name(oldest_old))
    return plan


def new_and_old(pods: list[Obj], pod_hash: str) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode: the node's new and old pod not being deleted, and False when
    it has more than one of either (the manage step prunes those first)."""
    new = old = None
    for pod in pods:
        if terminating(pod):
            continue
        if is_new(pod, pod_hash):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_plan(nodes: Mapping[str, list[Obj]], should_run: set[str], pod_hash: str,
                 surge: int, unavailable: int, min_ready: int, now: float) -> Plan:
    """rollingUpdate: which old pods to delete (or, surging, on which nodes to make a new
    pod beside the old one). ``nodes`` maps every node that has pods of the set, and every
    node that should run one, to those pods."""
    if surge == 0:
        return _within_unavailable(nodes, pod_hash, unavailable, min_ready, now)
    return _within_surge(nodes, should_run, pod_hash, surge, min_ready, now)


def _within_unavailable(nodes: Mapping[str, list[Obj]], pod_hash: str, unavailable: int,
                        min_ready: int, now: float) -> Plan:
    """Old pods go while fewer than ``unavailable`` nodes lack an available pod; a node
    without a pod, with a pod being replaced or with a new pod not yet available counts
    against the budget, and an old pod that is not available goes at once."""
    count = 0
    replace: list[str] = []
    candidates: list[str] = []
    for node in sorted(nodes):
        new, old, ok = new_and_old(nodes[node], pod_hash)
        if not ok or (new is None) == (old is None):
            count += 1  # none, or both: the manage step is still at work here
        elif new is not None:
            count += 0 if pod_available(new, min_ready, now) else 1
        elif old is not None and not pod_available(old, min_ready, now):
            replace.append(name(old))
            count += 1
        elif old is not None and count < unavailable:
            candidates.append(name(old))
    room = min(max(unavailable - count, 0), len(candidates))
    return Plan(delete=replace + candidates[:room])


def _within_surge(nodes: Mapping[str, list[Obj]], should_run: set[str], pod_hash: str,
                  surge: int, min_ready: int, now: float) -> Plan:
    """A new pod beside the old one on at most ``surge`` nodes at once (at once where the
    old pod is not available); the old pod goes once the new one is available."""
    plan = Plan()
    count = available = 0
    leaving: list[str] = []      # available old pods on nodes that no longer qualify
    allowed: list[str] = []
    candidates: list[str] = []
    for node in sorted(nodes):
        new, old, ok = new_and_old(nodes[node], pod_hash)
        if not ok:
            count += 1
            continue
        shown = old if old is not None else new
        if shown is not None and pod_available(shown, min_ready, now):
            available += 1
        if old is None:
            continue
        if new is None:
            if not pod_available(old, min_ready, now) and node not in should_run:
                plan.delete.append(name(old))
            elif not pod_available(old, min_ready, now):
                allowed.append(node)  # replaced at once: it serves nothing now
            elif node not in should_run:
                leaving.append(name(old))
            elif count < surge:
                candidates.append(node)
        elif not pod_available(new, min_ready, now):
            count += 1
        else:
            plan.delete.append(name(old))
    # With surge, the owner expects every node served: a pod on a node that no longer
    # qualifies goes only as pods elsewhere become available.
    extra = min(max(available - len(should_run), 0), len(leaving))
    plan.delete += leaving[:extra]
    room = min(max(surge - count, 0), len(candidates))
    plan.create = allowed + candidates[:room]
    return plan


@dataclass
class Counts:
    desired: int = 0
    scheduled: int = 0
    misscheduled: int = 0
    ready: int = 0
    available: int = 0
    updated: int = 0


def status_counts(nodes: Mapping[str, list[Obj]], known: Iterable[str], should_run: set[str],
                  pod_hash: str, min_ready: int, now: float) -> Counts:
    """updateDaemonSetStatus over the ``known`` nodes: per node that should run a pod,
    its oldest pod is the one counted (ready, available, updated); a node that should not
    run one but has one is misscheduled."""
    counts = Counts(desired=len(should_run))
    for node in known:
        pods = nodes.get(node) or []
        if node not in should_run:
            counts.misscheduled += 1 if pods else 0
            continue
        if not pods:
            continue
        counts.scheduled += 1
        oldest = by_age(pods)[0]
        if pod_ready(oldest):
            counts.ready += 1
            counts.available += 1 if pod_available(oldest, min_ready, now) else 0
        counts.updated += 1 if is_new(oldest, pod_hash) else 0
    return counts
