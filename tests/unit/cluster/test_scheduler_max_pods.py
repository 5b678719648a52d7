"""The node takes at most ``maxPods`` pods (the kubelet's setting, 110 by default, shown as
the node's ``status.capacity.pods`` and ``allocatable.pods``); the others stay Pending with a
FailedScheduling event and condition worded as kube-scheduler words them, and are bound as
soon as room frees."""

from __future__ import annotations

from typing import Any

from kompy.cluster.kubelet.config import KubeletConfig
from kompy.cluster.scheduler.filters import fits

TOO_MANY = ("0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.")


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                {"name": "app", "image": "kompy/busybox:1"}]}}


def scheduled(cluster: Any, name: str) -> dict[str, Any]:
    for cond in ((cluster.pod(name) or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == "PodScheduled":
            return dict(cond)
    return {}


def test_fits_counts_pods_and_sorts_reasons_as_kube_scheduler() -> None:
    assert fits((0, 0), (0, 0), (2000, 10), pods=109, max_pods=110) == []
    assert fits((0, 0), (0, 0), (2000, 10), pods=110, max_pods=110) == ["Too many pods"]
    assert fits((3000, 0), (0, 0), (2000, 10), pods=3, max_pods=3) == [
        "Insufficient cpu", "Too many pods"]


def test_pods_beyond_max_pods_stay_pending_with_the_reason(fake_node: Any) -> None:
    fake_node.config = KubeletConfig(max_pods=3)
    cluster = fake_node.start()
    node = cluster.wait("the node", lambda: cluster.client.list("nodes")["items"])[0]
    assert node["status"]["capacity"]["pods"] == "3"
    assert node["status"]["allocatable"]["pods"] == "3"
    for i in range(5):
        cluster.client.create(pod(f"p{i}"))
    cluster.wait("two pods refused", lambda: sum(
        scheduled(cluster, f"p{i}").get("status") == "False" for i in range(5)) == 2)
    waiting = [f"p{i}" for i in range(5) if scheduled(cluster, f"p{i}").get("status") == "False"]
    for name in waiting:
        cond = scheduled(cluster, name)
        assert (cond["reason"], cond["message"]) == ("Unschedulable", TOO_MANY)
        assert cluster.pod(name)["status"]["phase"] == "Pending"
        assert not cluster.pod(name)["spec"].get("nodeName")
    events = cluster.wait("FailedScheduling events", lambda: [
        e for e in cluster.client.list("events", "default")["items"]
        if e["reason"] == "FailedScheduling"])
    assert {e["message"] for e in events} == {TOO_MANY}
    assert {e["type"] for e in events} == {"Warning"}
    bound = [f"p{i}" for i in range(5) if f"p{i}" not in waiting]
    cluster.client.delete("pods", bound[0], "default")
    cluster.wait("one waiting pod bound once room frees", lambda: sum(
        bool((cluster.pod(name) or {}).get("spec", {}).get("nodeName")) for name in waiting) == 1)
