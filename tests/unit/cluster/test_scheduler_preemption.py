"""DefaultPreemption on hand-made snapshots: which pods are victims, which node is chosen,
who may preempt, and what the FailedScheduling message says (upstream's
default_preemption_test.go and preemption_test.go cases, in kompy's words)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kompy.cluster.scheduler import preemption
from kompy.cluster.scheduler.filters import Context
from kompy.cluster.scheduler.preemption import Candidate, pick, post_filter, select_victims
from kompy.cluster.scheduler.scheduler import decide
from kompy.cluster.scheduler.snapshot import Snapshot


def node(name: str, cpu: str = "2", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": spec, "status": {"allocatable": {"cpu": cpu, "memory": "4Gi",
                                                     "pods": "110"}}}


def pod(name: str, cpu: str = "1", priority: int = 0, on: str | None = None,
        start: str | None = None, labels: dict[str, str] | None = None,
        **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = dict(extra.pop("status", {}))
    if start:
        status["startTime"] = start
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "labels": labels or {}, **extra.pop("meta", {})},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {
                "requests": {"cpu": cpu}}}], "nodeName": on, "priority": priority, **extra},
            "status": status}


def run(incoming: dict[str, Any], nodes: list[dict[str, Any]], pods: list[dict[str, Any]],
        budgets: list[dict[str, Any]] | None = None,
        nominated: dict[str, list[dict[str, Any]]] | None = None) -> Any:
    snap = Snapshot.build(nodes, pods)
    return decide(incoming, snap, {"default": {}}, random.Random(1), nominated=nominated,
                  budgets=budgets or [])


def victims(decision: Any) -> list[str]:
    assert decision.node is None and decision.preemption is not None
    candidate = decision.preemption.candidate
    assert candidate is not None, decision.message
    return [p["metadata"]["name"] for p in candidate.victims]


def test_of_equal_priority_victims_the_one_started_last_goes() -> None:
    pods = [pod("old", on="a", start="2026-12-07T10:00:00Z"),
            pod("new", on="a", start="2026-12-07T11:00:00Z")]
    decision = run(pod("vip", priority=100), [node("a")], pods)
    assert victims(decision) == ["new"]
    assert decision.preemption.nominate == "a"
    # The preemptor's own message has no preemption part: preemption found a node.
    assert decision.message == "0/1 nodes are available: 1 Insufficient cpu."


def test_the_fewest_victims_of_the_lowest_priority_are_chosen() -> None:
    pods = [pod("p1", "2", priority=1, on="a"), pod("p2", priority=2, on="a"),
            pod("p3", priority=3, on="a")]
    decision = run(pod("vip", "2", priority=10), [node("a", cpu="4")], pods)
    assert victims(decision) == ["p1"]


def test_pods_of_higher_or_equal_priority_are_never_victims() -> None:
    pods = [pod("same", priority=10, on="a"), pod("higher", priority=20, on="a")]
    decision = run(pod("vip", priority=10), [node("a")], pods)
    assert decision.preemption.candidate is None
    assert decision.preemption.nominate == ""
    assert preemption.NO_VICTIMS in decision.message
    assert decision.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod.")


def test_a_node_that_evictions_cannot_free_enough_says_its_reason() -> None:
    pods = [pod("low", "500m", priority=0, on="a"), pod("high", "1500m", priority=200, on="a")]
    decision = run(pod("vip", "1", priority=100), [node("a")], pods)
    assert decision.message.endswith(
        "preemption: 0/1 nodes are available: 1 Insufficient cpu.")


def exhausted_budget(selected: dict[str, str]) -> dict[str, Any]:
    """A PodDisruptionBudget that allows no more disruptions of the pods it selects."""
    return {"metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": selected}},
            "status": {"disruptionsAllowed": 0}}


def test_a_pod_budget_spares_the_pods_it_protects() -> None:
    pods = [pod("guarded", on="a", start="2026-12-07T11:00:00Z", labels={"app": "db"}),
            pod("free", on="a", start="2026-12-07T10:00:00Z", labels={"app": "web"})]
    budget = exhausted_budget({"app": "db"})
    decision = run(pod("vip", priority=100), [node("a")], pods, [budget])
    # Without the budget the newer pod would go; with it, the older unguarded one does.
    assert victims(decision) == ["free"]
    assert decision.preemption.candidate.pdb_violations == 0
    assert victims(run(pod("vip", priority=100), [node("a")], pods)) == ["guarded"]


def test_a_violation_is_counted_when_no_other_pod_can_go() -> None:
    pods = [pod("guarded", "2", on="a", labels={"app": "db"})]
    budget = exhausted_budget({"app": "db"})
    decision = run(pod("vip", priority=100), [node("a")], pods, [budget])
    assert victims(decision) == ["guarded"]
    assert decision.preemption.candidate.pdb_violations == 1


def cand(node_name: str, *priorities: int, violations: int = 0,
         start: str = "2026-12-07T10:00:00Z") -> Candidate:
    return Candidate(node_name, tuple(pod(f"{node_name}{i}", priority=p, start=start)
                                      for i, p in enumerate(priorities)), violations)


@pytest.mark.parametrize(("candidates", "chosen"), [
    # 1. fewest PDB violations, before anything else
    ([cand("a", 1, violations=1), cand("b", 50, 50)], "b"),
    # 2. the lowest highest-priority victim
    ([cand("a", 5), cand("b", 1, 1, 1)], "b"),
    # 3. then the smallest sum of priorities
    ([cand("a", 5, 4), cand("b", 5, 1)], "b"),
    # 3'. negative priorities: two victims at -10 weigh more than one (2^31 each added)
    ([cand("a", -10, -10), cand("b", -10)], "b"),
    # 4. then the fewest victims
    ([cand("a", 3, 0, 0), cand("b", 3, 0)], "b"),
    # 5. then the latest start of the highest-priority victims
    ([cand("a", 3, start="2026-12-07T09:00:00Z"), cand("b", 3, start="2026-12-07T12:00:00Z")],
     "b"),
    # 6. then the first
    ([cand("a", 3), cand("b", 3)], "a"),
])
def test_the_node_is_picked_as_upstream(candidates: list[Candidate], chosen: str) -> None:
    assert pick(candidates).node == chosen


def test_across_nodes_the_one_with_the_cheapest_victims_wins() -> None:
    pods = [pod("mid", "2", priority=50, on="a"), pod("low1", priority=1, on="b"),
            pod("low2", priority=1, on="b")]
    decision = run(pod("vip", "2", priority=100), [node("a"), node("b")], pods)
    assert decision.preemption.candidate.node == "b"
    assert sorted(victims(decision)) == ["low1", "low2"]


def test_never_preempts() -> None:
    decision = run(pod("polite", priority=100, preemptionPolicy="Never"), [node("a")],
                   [pod("low", "2", on="a")])
    assert decision.preemption.candidate is None and decision.preemption.nominate is None
    assert decision.message == ("0/1 nodes are available: 1 Insufficient cpu. preemption: "
                                "not eligible due to preemptionPolicy=Never.")


def test_a_preemptor_waits_for_its_victims_rather_than_evict_more() -> None:
    leaving = pod("leaving", "2", on="a", meta={"deletionTimestamp": "2026-12-07T12:00:00Z"},
                  status={"conditions": [{"type": "DisruptionTarget", "status": "True",
                                          "reason": "PreemptionByScheduler"}]})
    waiting = pod("vip", priority=100, status={"nominatedNodeName": "a"})
    decision = run(waiting, [node("a")], [leaving])
    assert decision.message.endswith(
        "preemption: not eligible due to a terminating pod on the nominated node.")
    # A pod terminating for another reason does not hold it back.
    leaving["status"]["conditions"] = []
    assert run(waiting, [node("a")], [leaving]).preemption.candidate is not None


@pytest.mark.parametrize(("extra_node", "why"), [
    (node("b", taints=[{"key": "k", "effect": "NoSchedule"}]), "untolerated taint"),
    (node("b", unschedulable=True), "were unschedulable"),
    (node("b", cpu="500m"), "Insufficient cpu"),      # the request exceeds it all
])
def test_unresolvable_nodes_are_not_tried(extra_node: dict[str, Any], why: str) -> None:
    pods = [pod("low", "500m", on="b"), pod("same", "2", priority=100, on="a")]
    decision = run(pod("vip", priority=100), [node("a"), extra_node], pods)
    assert why in decision.message
    assert decision.message.endswith(
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming "
        "pod, 1 Preemption is not helpful for scheduling.")


def test_host_ports_and_anti_affinity_are_resolvable() -> None:
    port = {"containers": [{"name": "c", "image": "i", "ports": [
        {"containerPort": 80, "hostPort": 8080}]}]}
    holder = pod("holder", "100m", on="a")
    holder["spec"].update(port)
    incoming = pod("vip", "100m", priority=100)
    incoming["spec"].update(port)
    assert victims(run(incoming, [node("a")], [holder])) == ["holder"]


def test_the_room_freed_for_a_nominated_pod_is_kept_for_it() -> None:
    vip = pod("vip", priority=100, status={"nominatedNodeName": "a"})
    late = pod("late", priority=0)
    refused = run(late, [node("a")], [pod("other", on="a")], nominated={"a": [vip]})
    assert refused.node is None and "Insufficient cpu" in refused.message
    # Without the nomination the node has room; a pod of higher priority ignores it too.
    assert run(late, [node("a")], [pod("other", on="a")]).node == "a"
    assert run(pod("vvip", priority=200), [node("a")], [pod("other", on="a")],
               nominated={"a": [vip]}).node == "a"


def test_a_nominated_pod_goes_to_its_node_when_it_fits() -> None:
    nodes = [node("a"), node("b", cpu="8")]
    assert run(pod("vip", status={"nominatedNodeName": "a"}), nodes, []).node == "a"
    assert run(pod("vip"), nodes, []).node == "b"


def test_select_victims_on_one_node_directly() -> None:
    snap = Snapshot.build([node("a")], [pod("x", priority=5, on="a"),
                                        pod("y", priority=7, on="a")])
    found, why = select_victims(Context(pod("vip", "2", priority=6), snap), snap.nodes[0], [])
    assert found is None and why == ["Insufficient cpu"]
    found, why = select_victims(Context(pod("vip", "2", priority=8), snap), snap.nodes[0], [])
    assert found is not None and [p["metadata"]["name"] for p in found.victims] == ["y", "x"]


def test_a_prefilter_refusal_is_not_helped_by_preemption() -> None:
    snap = Snapshot.build([node("a"), node("b")], [])
    outcome = post_filter(Context(pod("vip", priority=1), snap), {})
    assert outcome.message == ("preemption: 0/2 nodes are available: 2 Preemption is not "
                               "helpful for scheduling.")
