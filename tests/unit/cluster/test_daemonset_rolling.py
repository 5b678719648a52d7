"""The DaemonSet controller's pacing rules (pkg/controller/daemon update.go rollingUpdate,
podsShouldBeOnNode, updateDaemonSetStatus) and podutil.IsPodAvailable, as tables over the
pods on each node. Each row names a rule; a controller that deleted every old pod at once,
ignored a not-yet-available new pod, or rounded a percentage down fails some row."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.cluster.controllers.availability import pod_available, recheck_in
from kompy.cluster.controllers.daemonroll import (
    budgets,
    manage_node,
    rolling_plan,
    status_counts,
)

NEW, OLD = "new0000000", "old0000000"
NOW = 1_000_000.0


def stamp(seconds_ago: float) -> str:
    import datetime as dt
    return (dt.datetime.fromtimestamp(NOW - seconds_ago, dt.UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"))


def pod(name: str, node: str, rev: str = OLD, ready_for: float | None = 100.0,
        deleting: bool = False, phase: str = "Running", born: int = 0) -> dict[str, Any]:
    """A daemon pod on ``node``: Ready for ``ready_for`` seconds (None: not Ready)."""
    meta: dict[str, Any] = {"name": name, "labels": {"controller-revision-hash": rev},
                            "creationTimestamp": f"2026-01-01T00:00:{born:02d}Z"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    ready = ready_for is not None
    cond = {"type": "Ready", "status": "True" if ready else "False",
            "lastTransitionTime": stamp(ready_for if ready else 0)}
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [cond]}}


def ds(unavailable: Any = 1, surge: Any = 0, kind: str = "RollingUpdate") -> dict[str, Any]:
    return {"spec": {"updateStrategy": {"type": kind, "rollingUpdate": {
        "maxUnavailable": unavailable, "maxSurge": surge}}}}


def test_available_means_ready_for_min_ready_seconds() -> None:
    assert pod_available(pod("a", "n1", ready_for=0), 0, NOW)
    assert not pod_available(pod("a", "n1", ready_for=None), 0, NOW)
    assert not pod_available(pod("a", "n1", ready_for=5), 10, NOW)
    assert not pod_available(pod("a", "n1", ready_for=10), 10, NOW)  # strictly before now
    assert pod_available(pod("a", "n1", ready_for=11), 10, NOW)


def test_the_owner_comes_back_when_the_first_ready_pod_turns_available() -> None:
    pods = [pod("a", "n1", ready_for=2), pod("b", "n2", ready_for=7),
            pod("c", "n3", ready_for=None), pod("d", "n4", ready_for=50)]
    wait = recheck_in(pods, 10, NOW)
    assert wait is not None and 3.0 <= wait <= 3.2   # pod b: 10 - 7 s
    assert recheck_in(pods, 0, NOW) is None           # no minReadySeconds: no timer
    assert recheck_in([pods[2], pods[3]], 10, NOW) is None  # nobody waits for the time


@pytest.mark.parametrize(("unavailable", "surge", "desired", "expected"), [
    (1, 0, 5, (0, 1)),
    ("30%", 0, 5, (0, 2)),     # 1.5 rounds up for DaemonSets (util.UnavailableCount)
    ("10%", 0, 5, (0, 1)),     # 0.5 -> 1
    ("100%", 0, 3, (0, 3)),
    (0, "20%", 7, (2, 0)),     # 1.4 rounds up (util.SurgeCount)
    (0, 0, 4, (0, 1)),         # impossible pair: accept one unavailable
    (0, 0, 0, (0, 0)),
])
def test_budgets_round_percentages_up(unavailable: Any, surge: Any, desired: int,
                                      expected: tuple[int, int]) -> None:
    assert budgets(ds(unavailable, surge), desired) == expected


def test_on_delete_has_no_rolling_budget() -> None:
    assert budgets(ds(kind="OnDelete"), 5) == (0, 0)


def nodes_of(*pods: dict[str, Any], empty: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {n: [] for n in empty}
    for p in pods:
        out.setdefault(p["spec"]["nodeName"], []).append(p)
    return out


FOUR = {"n1", "n2", "n3", "n4"}


@pytest.mark.parametrize(("rule", "pods", "unavailable", "min_ready", "deleted"), [
    ("all old and available: maxUnavailable of them go",
     [pod("a", "n1"), pod("b", "n2"), pod("c", "n3"), pod("d", "n4")], 2, 0, ["a", "b"]),
    ("a new pod not yet available holds the budget",
     [pod("a", "n1", NEW, ready_for=None), pod("b", "n2"), pod("c", "n3"), pod("d", "n4")],
     1, 0, []),
    ("a new pod Ready but inside minReadySeconds still holds it",
     [pod("a", "n1", NEW, ready_for=3), pod("b", "n2"), pod("c", "n3"), pod("d", "n4")],
     1, 10, []),
    ("once available, the next old pod goes",
     [pod("a", "n1", NEW, ready_for=30), pod("b", "n2"), pod("c", "n3"), pod("d", "n4")],
     1, 10, ["b"]),
    ("a node whose old pod is being deleted counts as unavailable",
     [pod("a", "n1", deleting=True), pod("b", "n2"), pod("c", "n3"), pod("d", "n4")],
     1, 0, []),
    ("a node with no pod yet counts as unavailable",
     [pod("b", "n2"), pod("c", "n3"), pod("d", "n4")], 2, 0, ["b"]),
    ("an old pod that is not available goes at once, whatever the budget",
     [pod("a", "n1", NEW, ready_for=None), pod("b", "n2", ready_for=None), pod("c", "n3"),
      pod("d", "n4")], 1, 0, ["b"]),
    ("an old pod inside its minReadySeconds is not available either",
     [pod("a", "n1"), pod("b", "n2", ready_for=2), pod("c", "n3"), pod("d", "n4")],
     1, 10, ["b"]),
    ("nothing left to do once every pod is new",
     [pod("a", "n1", NEW), pod("b", "n2", NEW), pod("c", "n3", NEW), pod("d", "n4", NEW)],
     1, 0, []),
])
def test_without_surge_old_pods_go_within_max_unavailable(
        rule: str, pods: list[dict[str, Any]], unavailable: int, min_ready: int,
        deleted: list[str]) -> None:
    plan = rolling_plan(nodes_of(*pods, empty=tuple(FOUR)), FOUR, NEW, 0, unavailable,
                        min_ready, NOW)
    assert (plan.delete, plan.create) == (deleted, []), rule


@pytest.mark.parametrize(("rule", "pods", "surge", "deleted", "created"), [
    ("maxSurge nodes get a new pod beside the old one",
     [pod("a", "n1"), pod("b", "n2"), pod("c", "n3"), pod("d", "n4")], 2, [], ["n1", "n2"]),
    ("a new pod not yet available keeps its old pod and holds the surge",
     [pod("a", "n1"), pod("a2", "n1", NEW, ready_for=None), pod("b", "n2"), pod("c", "n3"),
      pod("d", "n4")], 1, [], []),
    ("inside minReadySeconds the new pod is not available yet",
     [pod("a", "n1"), pod("a2", "n1", NEW, ready_for=3), pod("b", "n2"), pod("c", "n3"),
      pod("d", "n4")], 1, [], []),
    ("the old pod goes once the new one is available, and the next node surges",
     [pod("a", "n1"), pod("a2", "n1", NEW, ready_for=30), pod("b", "n2"), pod("c", "n3"),
      pod("d", "n4")], 1, ["a"], ["n2"]),
    ("an old pod that is not available is replaced at once, beyond maxSurge",
     [pod("a", "n1"), pod("a2", "n1", NEW, ready_for=None), pod("b", "n2", ready_for=None),
      pod("c", "n3"), pod("d", "n4")], 1, [], ["n2"]),
])
def test_with_surge_new_pods_come_beside_old_ones(
        rule: str, pods: list[dict[str, Any]], surge: int, deleted: list[str],
        created: list[str]) -> None:
    plan = rolling_plan(nodes_of(*pods, empty=tuple(FOUR)), FOUR, NEW, surge, 0, 10, NOW)
    assert (plan.delete, plan.create) == (deleted, created), rule


@pytest.mark.parametrize(("rule", "pods", "should_run", "surge", "deleted", "created"), [
    ("a node that should run a pod and has none gets one", [], True, False, [], [""]),
    ("without surge, a pod being deleted is waited out", [pod("a", "n1", deleting=True)],
     True, False, [], []),
    ("with surge, a pod being deleted is replaced at once", [pod("a", "n1", deleting=True)],
     True, True, [], [""]),
    ("without surge, all but the oldest go",
     [pod("b", "n1", born=2), pod("a", "n1", born=1), pod("c", "n1", NEW, born=3)],
     True, False, ["b", "c"], []),
    ("a failed pod goes", [pod("a", "n1", phase="Failed", ready_for=None)], True, False,
     ["a"], []),
    ("a node that should not run a pod loses it", [pod("a", "n1"),
                                                   pod("b", "n1", deleting=True)],
     False, False, ["a"], []),
    ("with surge, the old pod goes once the new one is available",
     [pod("a", "n1", born=1), pod("b", "n1", NEW, ready_for=30, born=2)], True, True,
     ["a"], []),
    ("with surge, an old pod no longer ready goes",
     [pod("a", "n1", ready_for=None, born=1), pod("b", "n1", NEW, ready_for=None, born=2)],
     True, True, ["a"], []),
    ("with surge, both stay while the new pod is not yet available",
     [pod("a", "n1", born=1), pod("b", "n1", NEW, ready_for=3, born=2)], True, True, [], []),
])
def test_manage_node(rule: str, pods: list[dict[str, Any]], should_run: bool, surge: bool,
                     deleted: list[str], created: list[str]) -> None:
    plan = manage_node(pods, should_run, NEW, surge, 10, NOW)
    assert (plan.delete, plan.create) == (deleted, created), rule


@pytest.mark.parametrize(("rule", "surge", "deleted", "created"), [
    ("without surge, a node whose failed pod is held waits for it", False, [], []),
    ("with surge, a node whose failed pod is held gets a new pod beside it", True, [],
     [""]),
])
def test_a_failed_pod_held_by_its_back_off(rule: str, surge: bool, deleted: list[str],
                                           created: list[str]) -> None:
    failed = pod("a", "n1", phase="Failed", ready_for=None)
    plan = manage_node([failed], True, NEW, surge, 0, NOW, ended=lambda p: False)
    assert (plan.delete, plan.create) == (deleted, created), rule


def test_status_counts_the_oldest_pod_of_each_node() -> None:
    nodes = nodes_of(
        pod("a", "n1", born=1), pod("a2", "n1", NEW, ready_for=30, born=2),   # surging
        pod("b", "n2", NEW, ready_for=3),                                     # minReady
        pod("c", "n3", NEW, ready_for=None),                                  # not ready
        pod("x", "gone"),                                                     # no such node
        pod("y", "n5"),                                         # should not run there
        empty=("n4",))
    counts = status_counts(nodes, ["n1", "n2", "n3", "n4", "n5"], FOUR, NEW, 10, NOW)
    assert (counts.desired, counts.scheduled, counts.ready, counts.available,
            counts.updated, counts.misscheduled) == (4, 3, 2, 1, 2, 1)


@pytest.mark.parametrize(("rule", "pods", "should_run", "should_continue", "surge",
                          "deleted", "created"), [
    ("a node tainted NoSchedule after its daemon started keeps it",
     [pod("a", "n1")], False, True, False, [], []),
    ("... with surge too, and gets no second pod", [pod("a", "n1")], False, True, True, [], []),
    ("... but gets no new pod when it has none", [], False, True, False, [], []),
    ("... nor beside a failed one, surging", [pod("f", "n1", phase="Failed")], False, True,
     True, ["f"], []),
    ("an untolerated NoExecute taint evicts it", [pod("a", "n1")], False, False, False,
     ["a"], []),
])
def test_should_run_and_should_continue_running(
        rule: str, pods: list[dict[str, Any]], should_run: bool, should_continue: bool,
        surge: bool, deleted: list[str], created: list[str]) -> None:
    plan = manage_node(pods, should_run, NEW, surge, 0, NOW, should_continue=should_continue)
    assert (plan.delete, plan.create) == (deleted, created), rule


@pytest.mark.parametrize(("taint", "runs", "stays"), [
    ({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}, False, True),
    ({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}, True, True),
    ({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, False, True),
    ({"key": "dedicated", "value": "gpu", "effect": "NoExecute"}, False, False),
    ({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}, True, True),
])
def test_node_should_run_daemon_pod(taint: dict[str, str], runs: bool, stays: bool) -> None:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning) with the tolerations the
    controller adds to its pods."""
    from kompy.cluster.controllers.daemonset import runs_on, stays_on

    node = {"metadata": {"name": "n1"}, "spec": {"taints": [taint]}}
    template = {"metadata": {}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    assert (runs_on(template, node), stays_on(template, node)) == (runs, stays)
