"""kube-scheduler's filters and scores on hand-made snapshots of three nodes: each rule
decides where a pod lands, and the FailedScheduling message says why none fits, worded and
counted as kube-scheduler's."""

from __future__ import annotations

import random
from typing import Any

from kompy.cluster.scheduler import taints
from kompy.cluster.scheduler.scheduler import place
from kompy.cluster.scheduler.snapshot import Snapshot

NAMES = ("kompy", "kompy-m02", "kompy-m03")


def node(name: str, labels: dict[str, str] | None = None, cpu: str = "2",
         memory: str = "4Gi", pods: str = "110", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": name,
        **(labels or {})}},
        "spec": spec, "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}}


def pod(name: str = "p", labels: dict[str, str] | None = None, on: str | None = None,
        cpu: str | None = None, owner: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "i"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}",
                            "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": owner,
                                    "controller": True}]
    return {"metadata": meta, "spec": {"containers": [container], "nodeName": on, **spec}}


def where(p: dict[str, Any], nodes: list[dict[str, Any]] | None = None,
          pods: list[dict[str, Any]] | None = None) -> tuple[str | None, str]:
    snap = Snapshot.build(nodes or [node(n) for n in NAMES], pods or [])
    return place(p, snap, {"default": {}}, random.Random(1))


def test_node_selector_picks_the_labelled_node() -> None:
    nodes = [node("kompy"), node("kompy-m02", {"disk": "ssd"}), node("kompy-m03")]
    assert where(pod(nodeSelector={"disk": "ssd"}), nodes) == ("kompy-m02", "")


def test_no_node_fits_says_why_per_node_as_kube_scheduler() -> None:
    nodes = [node("kompy", unschedulable=True), node("kompy-m02", cpu="2"),
             node("kompy-m03", taints=[{"key": "dedicated", "value": "db",
                                        "effect": "NoSchedule"}])]
    busy = [pod("busy", on="kompy-m02", cpu="1")]    # of the same priority: no victim
    chosen, message = where(pod(cpu="1500m"), nodes, busy)
    assert chosen is None
    assert message == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
        "{dedicated: db}, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for "
        "scheduling.")
    # A request beyond the node's whole allocatable: no eviction can help there either.
    assert where(pod(cpu="2500m"), nodes, busy)[1].endswith(
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_a_toleration_admits_the_tainted_node() -> None:
    taint = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    nodes = [node("kompy", taints=[taint]), node("kompy-m02", unschedulable=True)]
    tolerating = pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db",
                                   "effect": "NoSchedule"}])
    assert where(tolerating, nodes) == ("kompy", "")
    assert where(pod(), nodes)[0] is None


def test_prefer_no_schedule_is_avoided_but_not_refused() -> None:
    soft = [{"key": "spot", "effect": "PreferNoSchedule"}]
    nodes = [node("kompy", taints=soft), node("kompy-m02")]
    assert where(pod(), nodes)[0] == "kompy-m02"
    assert where(pod(), [node("kompy", taints=soft)])[0] == "kompy"


def test_required_node_affinity_terms_are_ored_expressions_anded() -> None:
    nodes = [node("kompy", {"gen": "3"}), node("kompy-m02", {"gen": "5", "gpu": "yes"}),
             node("kompy-m03", {"gen": "7"})]
    term = {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]},
                                 {"key": "gpu", "operator": "DoesNotExist"}]}
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}
    assert where(pod(affinity=aff), nodes)[0] == "kompy-m03"
    none = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "gen", "operator": "In", "values": ["9"]}]}]}}}
    assert where(pod(affinity=none), nodes) == (None, (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."))


def test_preferred_node_affinity_weighs() -> None:
    nodes = [node("kompy"), node("kompy-m02", {"disk": "ssd"}), node("kompy-m03")]
    aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}
    assert where(pod(affinity=aff), nodes)[0] == "kompy-m02"


def test_resource_fit_counts_the_requests_already_bound() -> None:
    nodes = [node("kompy", cpu="1"), node("kompy-m02", cpu="1")]
    bound = [pod("a", on="kompy", cpu="800m")]
    assert where(pod(cpu="500m"), nodes, bound)[0] == "kompy-m02"
    bound.append(pod("b", on="kompy-m02", cpu="600m"))
    chosen, message = where(pod(cpu="500m"), nodes, bound)
    assert chosen is None and message.startswith("0/2 nodes are available: 2 Insufficient cpu.")


def test_required_anti_affinity_keeps_replicas_apart() -> None:
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}},
         "topologyKey": "kubernetes.io/hostname"}]}}
    bound = [pod("w1", {"app": "web"}, on="kompy", affinity=anti),
             pod("w2", {"app": "web"}, on="kompy-m02", affinity=anti)]
    assert where(pod("w3", {"app": "web"}, affinity=anti), pods=bound)[0] == "kompy-m03"
    bound.append(pod("w3", {"app": "web"}, on="kompy-m03", affinity=anti))
    chosen, message = where(pod("w4", {"app": "web"}, affinity=anti), pods=bound)
    assert chosen is None
    assert "3 node(s) didn't satisfy existing pods anti-affinity rules" in message


def test_required_pod_affinity_follows_the_other_pod() -> None:
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}},
         "topologyKey": "topology.kubernetes.io/zone"}]}}
    bound = [pod("cache", {"app": "cache"}, on="kompy-m03")]
    assert where(pod(affinity=aff), pods=bound)[0] == "kompy-m03"
    chosen, message = where(pod(affinity=aff), pods=[])
    assert chosen is None and "3 node(s) didn't match pod affinity rules" in message


def test_topology_spread_do_not_schedule_limits_the_skew() -> None:
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
               "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    bound = [pod("a", {"app": "web"}, on="kompy"), pod("b", {"app": "web"}, on="kompy-m02")]
    assert where(pod("c", {"app": "web"}, topologySpreadConstraints=spread),
                 pods=bound)[0] == "kompy-m03"
    nodes = [node("kompy"), node("kompy-m02"), node("kompy-m03")]
    del nodes[2]["metadata"]["labels"]["topology.kubernetes.io/zone"]
    nodes[0]["spec"]["unschedulable"] = True  # its domain still counts (one pod there)
    bound.append(pod("e", {"app": "web"}, on="kompy-m02"))
    chosen, message = where(pod("d", {"app": "web"}, topologySpreadConstraints=spread),
                            nodes, bound)
    assert chosen is None
    assert ("1 node(s) didn't match pod topology spread constraints, 1 node(s) didn't match "
            "pod topology spread constraints (missing required label), 1 node(s) were "
            "unschedulable") in message


def test_replicas_of_one_owner_spread_over_the_nodes() -> None:
    bound: list[dict[str, Any]] = []
    snapnodes = [node(n) for n in NAMES]
    for i in range(9):
        chosen, _ = where(pod(f"r{i}", owner="rs1"), snapnodes, bound)
        bound.append(pod(f"r{i}", owner="rs1", on=chosen))
    counts = {n: sum(1 for p in bound if p["spec"]["nodeName"] == n) for n in NAMES}
    assert counts == {n: 3 for n in NAMES}


def test_too_many_pods() -> None:
    chosen, message = where(pod(), [node("kompy", pods="1")], [pod("a", on="kompy")])
    assert chosen is None and message.startswith("0/1 nodes are available: 1 Too many pods.")


def test_tolerations_and_eviction_delay() -> None:
    unreachable = {"key": taints.UNREACHABLE, "effect": "NoExecute"}
    defaults = taints.default_tolerations([])
    assert taints.eviction_delay([unreachable], defaults) == 300
    assert taints.eviction_delay([unreachable], []) is None
    forever = [{"operator": "Exists"}]
    assert taints.eviction_delay([unreachable], forever) == float("inf")
    short = taints.default_tolerations([{"key": taints.UNREACHABLE, "operator": "Exists",
                                         "effect": "NoExecute", "tolerationSeconds": 5}])
    assert taints.eviction_delay([unreachable], short) == 5
    assert len(short) == 2  # not-ready added, unreachable kept as the pod said
