"""Several nodes on the in-memory backend: nodes created later get a kubelet, replicas
spread, a node whose machine stops goes NotReady and unreachable and its pods move, the
Eviction subresource honours PodDisruptionBudgets, and DaemonSets run on every node."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client import ApiError
from kompy.cluster.kubelet.backend import LABEL_NODE, LABEL_ROLE
from kompy.cluster.kubelet.config import KubeletConfig
from kompy.cluster.kubelet.node import ensure_nodes


def deployment(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 0, **spec,
                         "containers": [{"name": "app", "image": "kompy/busybox:1"}]}}}}


def pods_of(cluster: Any, app: str) -> list[dict[str, Any]]:
    return [p for p in cluster.client.list("pods", "default")["items"]
            if p["metadata"].get("labels", {}).get("app") == app]


def where(cluster: Any, app: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pods_of(cluster, app):
        if not p["metadata"].get("deletionTimestamp"):
            node = p["spec"].get("nodeName") or ""
            out[node] = out.get(node, 0) + 1
    return out


def ready(node: dict[str, Any]) -> str:
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


@pytest.fixture
def three(fake_node: Any) -> Any:
    fake_node.config = KubeletConfig(node_lease_duration_seconds=2)
    cluster = fake_node.start()
    assert ensure_nodes(cluster.client, 3) == ["kompy-m02", "kompy-m03"]
    cluster.wait("three Ready nodes", lambda: len([
        n for n in cluster.client.list("nodes")["items"]
        if n.get("status", {}).get("conditions") and ready(n) == "True"]) == 3)
    return cluster


def test_nodes_are_failure_domains_and_replicas_spread(three: Any) -> None:
    nodes = {n["metadata"]["name"]: n for n in three.client.list("nodes")["items"]}
    assert nodes["kompy-m02"]["metadata"]["labels"]["kubernetes.io/hostname"] == "kompy-m02"
    assert nodes["kompy-m03"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "kompy-m03"
    lease = three.client.get("leases", "kompy-m02", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "kompy-m02"
    three.client.create(deployment("web", 6))
    three.wait("two replicas per node", lambda: where(three, "web") == {
        "kompy": 2, "kompy-m02": 2, "kompy-m03": 2})
    for p in pods_of(three, "web"):
        boxes = three.wait(f"{p['metadata']['name']} running", lambda p=p: three.backend.running(
            **{"kompy.pod": p["metadata"]["name"]}))
        assert {b.labels[LABEL_NODE] for b in boxes} == {p["spec"]["nodeName"]}


def test_a_stopped_node_goes_unreachable_and_its_pods_move(three: Any) -> None:
    tolerate = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 1}]
    three.client.create(deployment("web", 3, tolerations=tolerate))
    three.wait("one replica per node", lambda: len(where(three, "web")) == 3)
    machine = next(c for c in three.backend.running(**{LABEL_ROLE: "node"})
                   if c.labels[LABEL_NODE] == "kompy-m03")
    three.backend.kill(machine.id)
    node = three.wait("kompy-m03 unreachable", lambda: [
        n for n in [three.client.get("nodes", "kompy-m03")] if ready(n) == "Unknown"
        and {t["key"] for t in n["spec"].get("taints") or []} ==
        {"node.kubernetes.io/unreachable"}])[0]
    assert {t["effect"] for t in node["spec"]["taints"]} == {"NoSchedule", "NoExecute"}
    assert not three.backend.running(**{LABEL_NODE: "kompy-m03", LABEL_ROLE: "app"})
    three.wait("the replicas moved off kompy-m03", lambda: sum(where(three, "web").values())
               == 3 and "kompy-m03" not in where(three, "web"))
    three.backend.start(machine.id)
    three.wait("kompy-m03 Ready again, untainted", lambda: ready(
        three.client.get("nodes", "kompy-m03")) == "True" and not three.client.get(
        "nodes", "kompy-m03")["spec"].get("taints"))
    three.wait("its evicted pods gone", lambda: not [
        p for p in pods_of(three, "web") if p["spec"]["nodeName"] == "kompy-m03"])


def evict(client: Any, name: str) -> Any:
    return client.request("POST", f"/api/v1/namespaces/default/pods/{name}/eviction", body={
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"}})


def test_eviction_honours_the_disruption_budget(three: Any) -> None:
    three.client.create(deployment("db", 2))
    three.client.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                         "metadata": {"name": "db", "namespace": "default"},
                         "spec": {"minAvailable": 1,
                                  "selector": {"matchLabels": {"app": "db"}}}})
    three.wait("both replicas ready", lambda: sum(
        1 for p in pods_of(three, "db") if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions") or [])) == 2)
    pdb = three.wait("the budget allows one", lambda: [
        b for b in [three.client.get("poddisruptionbudgets", "db", "default")]
        if b.get("status", {}).get("disruptionsAllowed") == 1])[0]
    assert pdb["status"]["currentHealthy"] == 2 and pdb["status"]["desiredHealthy"] == 1
    first, second = [p["metadata"]["name"] for p in pods_of(three, "db")]
    evict(three.client, first)
    with pytest.raises(ApiError) as refused:
        evict(three.client, second)
    assert refused.value.status == 429
    assert refused.value.message == ("Cannot evict pod as it would violate the pod's "
                                     "disruption budget.")


def test_cordon_keeps_new_pods_away_and_daemonsets_run_everywhere(three: Any) -> None:
    three.client.patch("nodes", "kompy-m02", None, {"spec": {"unschedulable": True}})
    three.wait("the unschedulable taint", lambda: three.client.get("nodes", "kompy-m02")[
        "spec"].get("taints"))
    three.client.create(deployment("web", 4))
    three.wait("four replicas off the cordoned node", lambda: sum(
        where(three, "web").values()) == 4 and "" not in where(three, "web"))
    assert "kompy-m02" not in where(three, "web")
    ds = deployment("agent", 0)
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    three.client.create(ds)
    three.wait("a daemon pod on each node, the cordoned one too", lambda: where(
        three, "agent") == {"kompy": 1, "kompy-m02": 1, "kompy-m03": 1})
    three.client.delete("nodes", "kompy-m03")
    three.wait("the deleted node's pods gone", lambda: "kompy-m03" not in where(
        three, "agent") and "kompy-m03" not in where(three, "web"))


def test_a_daemon_pod_stays_on_a_node_tainted_no_schedule_after_it_started(three: Any
                                                                           ) -> None:
    """NodeShouldRunDaemonPod: a NoSchedule taint its pods do not tolerate keeps new daemon
    pods off a node, but the one there stays (shouldContinueRunning, counted misscheduled);
    only an untolerated NoExecute taint removes it."""
    ds = deployment("agent", 0)
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    three.client.create(ds)
    three.wait("a daemon pod on each node", lambda: where(three, "agent") == {
        "kompy": 1, "kompy-m02": 1, "kompy-m03": 1})
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    three.client.patch("nodes", "kompy-m02", None, {"spec": {"taints": [taint]}})
    status = three.wait("the controller's view of the taint", lambda: (
        st := (three.client.get("daemonsets", "agent", "default").get("status") or {})
    ).get("desiredNumberScheduled") == 2 and st.get("numberMisscheduled") == 1 and st)
    assert status["currentNumberScheduled"] == 2
    assert where(three, "agent") == {"kompy": 1, "kompy-m02": 1, "kompy-m03": 1}
    three.client.patch("nodes", "kompy-m02", None, {"spec": {"taints": [
        {**taint, "effect": "NoExecute"}]}})
    three.wait("the daemon pod gone from the NoExecute node", lambda: where(
        three, "agent") == {"kompy": 1, "kompy-m03": 1})


def test_kompy_drain_evicts_through_the_budget_and_cordon_is_idempotent(three: Any) -> None:
    import time

    from kompy.errors import UserError
    from kompy.kubectl.drain import DrainOptions, cordon, drain

    said: list[str] = []
    three.client.create(deployment("web", 3, nodeSelector={"kubernetes.io/hostname":
                                                           "kompy-m02"}))
    three.client.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                         "metadata": {"name": "web", "namespace": "default"},
                         "spec": {"maxUnavailable": 1,
                                  "selector": {"matchLabels": {"app": "web"}}}})
    three.wait("three replicas on kompy-m02", lambda: where(three, "web") == {"kompy-m02": 3})
    three.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "bare", "namespace": "default"}, "spec": {
        "nodeName": "kompy-m02", "containers": [{"name": "c", "image": "kompy/busybox:1"}]}})
    with pytest.raises(UserError) as refused:
        drain(three.client, "kompy-m02", DrainOptions(), said.append)
    assert "cannot delete Pods that declare no controller (use --force to override): " \
           "default/bare" in refused.value.message
    assert said == ["node/kompy-m02 cordoned\n"]
    cordon(three.client, "kompy-m02", said.append)
    assert said[-1] == "node/kompy-m02 already cordoned\n"
    # The replicas can go nowhere else (their selector names kompy-m02): one eviction is
    # granted, the others are refused by the budget until the drain gives up.
    clock = iter(range(0, 1000, 10))
    with pytest.raises(UserError, match="timed out evicting"):
        drain(three.client, "kompy-m02", DrainOptions(force=True, timeout=25), said.append,
              clock=lambda: float(next(clock)), sleep=lambda s: time.sleep(0.2))
    refusals = [line for line in said if line.startswith("error when evicting")]
    assert refusals and refusals[0].endswith(
        "(will retry after 5s): Cannot evict pod as it would violate the pod's disruption "
        "budget.\n")
    assert cordon(three.client, "kompy-m02", said.append, unschedulable=False) == 0
    assert said[-1] == "node/kompy-m02 uncordoned\n"


def test_a_stopped_node_s_pods_leave_nothing_behind_in_the_kubelet(three: Any,
                                                                    fake_node: Any) -> None:
    """Its pods' token renewals and retries (the work queue's delayed adds) and their
    ServiceAccount tokens are forgotten with them, as when a pod is deleted."""
    kubelet = fake_node.runtime.kubelet
    three.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "pinned", "namespace": "default"}, "spec": {
        "nodeName": "kompy-m03", "containers": [{"name": "app", "image": "kompy/busybox:1"}]}})
    made = three.wait("pinned running", lambda: (
        p := three.client.get("pods", "pinned", "default")).get("status", {}).get(
        "phase") == "Running" and p)
    key = made["metadata"]["uid"]
    assert any(v.get("projected") for v in made["spec"]["volumes"])  # a bound token
    three.wait("its token renewal due", lambda: kubelet.queue.waits(key))
    assert kubelet.tokens.next_refresh(key) is not None

    machine = next(c for c in three.backend.running(**{LABEL_ROLE: "node"})
                   if c.labels[LABEL_NODE] == "kompy-m03")
    three.backend.kill(machine.id)
    three.wait("kompy-m03's pods forgotten", lambda: not kubelet.queue.waits(key) and
               kubelet.tokens.next_refresh(key) is None, timeout=10)
