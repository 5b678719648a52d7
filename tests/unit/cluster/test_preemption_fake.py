"""Preemption through the whole in-memory cluster (real API server, scheduler, controllers and
kubelet; the fake engine): a high-priority pod evicts a low-priority Deployment's pod, with
the nomination, the DisruptionTarget condition, the Preempted event and the messages
kube-scheduler writes; a ``Never`` pod waits; the evicted pod's replacement waits too."""

from __future__ import annotations

from typing import Any

from kompy.client import KubeClient, NotFound
from kompy.client.loopback import attach
from kompy.client.quantity import milli_value
from kompy.cluster.apiserver.server import ApiServer

LOW = "batch-low"
HIGH = "urgent-high"
POLITE = "polite-high"
TOKEN = "preemption-token"


def klass(name: str, value: int, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, **fields}


def spec(cpu: str, priority_class: str) -> dict[str, Any]:
    return {"priorityClassName": priority_class, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "kompy/busybox:1",
                            "command": ["sleep", "3600"],
                            "resources": {"requests": {"cpu": cpu}}}]}


def events(client: Any, involved: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in client.list("events", "default")["items"]
            if e["involvedObject"]["name"] == involved and e["reason"] == reason]


def test_a_high_priority_pod_preempts_a_low_priority_replica(fake_cluster: Any) -> None:
    c, client = fake_cluster, fake_cluster.client
    node = c.wait("the node", lambda: client.list("nodes")["items"])[0]
    node_name = node["metadata"]["name"]
    cpu = milli_value(node["status"]["allocatable"]["cpu"])
    client.create(klass(LOW, -10))
    client.create(klass(HIGH, 1000))
    client.create(klass(POLITE, 1000, preemptionPolicy="Never"))
    client.create({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "filler", "namespace": "default"},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "filler"}},
                            "template": {"metadata": {"labels": {"app": "filler"}},
                                         "spec": spec(f"{cpu * 45 // 100}m", LOW)}}})

    def fillers() -> list[dict[str, Any]]:
        return [p for p in client.list("pods", "default")["items"]
                if p["metadata"]["name"].startswith("filler-")]

    c.wait("both fillers running", lambda: len([
        p for p in fillers() if p["status"].get("phase") == "Running"]) == 2)
    assert {p["spec"]["priority"] for p in fillers()} == {-10}

    # preemptionPolicy Never: it waits, and says so.
    client.create({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "polite", "namespace": "default"},
                   "spec": spec(f"{cpu * 30 // 100}m", POLITE)})
    said = c.wait("polite refused", lambda: events(client, "polite", "FailedScheduling"))
    assert said[0]["message"] == ("0/1 nodes are available: 1 Insufficient cpu. preemption: "
                                  "not eligible due to preemptionPolicy=Never.")
    assert all(p["metadata"].get("deletionTimestamp") is None for p in fillers())
    client.delete("pods", "polite", "default", grace_period_seconds=0)

    before = {p["metadata"]["name"]: p for p in fillers()}
    client.create({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "urgent", "namespace": "default"},
                   "spec": spec(f"{cpu * 30 // 100}m", HIGH)})
    preempted = c.wait("a Preempted event", lambda: [
        e for name in before for e in events(client, name, "Preempted")])
    assert len(preempted) == 1
    victim = preempted[0]["involvedObject"]["name"]
    urgent = client.get("pods", "urgent", "default")
    assert preempted[0]["type"] == "Normal"
    assert preempted[0]["message"] == (
        f"Preempted by pod {urgent['metadata']['uid']} on node {node_name}")
    assert urgent["status"].get("nominatedNodeName") == node_name or \
        urgent["spec"].get("nodeName") == node_name
    failed = c.wait("urgent's FailedScheduling", lambda: events(client, "urgent",
                                                                 "FailedScheduling"))
    assert failed[0]["message"] == "0/1 nodes are available: 1 Insufficient cpu."

    c.wait("urgent bound and running", lambda: (client.get("pods", "urgent", "default")
                                                ["status"].get("phase") == "Running"))
    bound = client.get("pods", "urgent", "default")
    assert bound["spec"]["nodeName"] == node_name
    assert "nominatedNodeName" not in bound["status"]   # cleared by the binding

    # The victim went with the DisruptionTarget condition (seen on its last state).
    def gone() -> bool:
        try:
            client.get("pods", victim, "default")
        except NotFound:
            return True
        return False
    c.wait("the victim gone", gone)
    # Its replacement is Pending: no lower-priority pod is left for it, and the room is
    # the urgent pod's.
    replacement = c.wait("the replacement filler", lambda: [
        p for p in fillers() if p["metadata"]["name"] not in before])[0]
    name = replacement["metadata"]["name"]
    refused = c.wait("the replacement refused", lambda: events(client, name,
                                                               "FailedScheduling"))
    assert refused[0]["message"] == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod.")
    survivor = next(n for n in before if n != victim)
    assert client.get("pods", survivor, "default")["status"]["phase"] == "Running"


def test_the_victim_is_marked_before_it_is_deleted(fake_cluster: Any) -> None:
    c, client = fake_cluster, fake_cluster.client
    node = c.wait("the node", lambda: client.list("nodes")["items"])[0]
    cpu = milli_value(node["status"]["allocatable"]["cpu"])
    client.create(klass(HIGH, 1000))
    low = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "low", "namespace": "default", "finalizers": ["test/hold"]},
           "spec": {**spec(f"{cpu * 80 // 100}m", HIGH), "priorityClassName": ""}}
    client.create(low)
    c.wait("low running", lambda: client.get("pods", "low", "default")["status"].get(
        "phase") == "Running")
    client.create({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "urgent", "namespace": "default"},
                   "spec": spec(f"{cpu * 50 // 100}m", HIGH)})

    def marked() -> dict[str, Any] | None:
        pod = client.get("pods", "low", "default")
        conds = [x for x in pod["status"].get("conditions") or []
                 if x["type"] == "DisruptionTarget"]
        return conds[0] if conds and pod["metadata"].get("deletionTimestamp") else None

    cond = c.wait("the victim marked and terminating", marked)
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True", "PreemptionByScheduler",
        "default-scheduler: preempting to accommodate a higher priority pod")
    client.patch("pods", "low", "default", {"metadata": {"finalizers": None}})
    c.wait("urgent running", lambda: client.get("pods", "urgent", "default")["status"].get(
        "phase") == "Running")


def test_the_binding_clears_the_nomination(server: ApiServer) -> None:
    """kube-apiserver's pods/binding clears status.nominatedNodeName in the write that sets
    the node (ClearingNominatedNodeNameAfterBinding); kompy's scheduler binds by setting
    spec.nodeName, and that write does the same. A later status write may set it again."""
    client = attach(KubeClient.for_server(server.url, TOKEN), server.router)
    client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    client.create({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "p", "namespace": "default"},
                   "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}})
    client.patch("pods", "p", "default", {"status": {"nominatedNodeName": "n1"}},
                 subresource="status")
    client.patch("pods", "p", "default", {"metadata": {"labels": {"a": "b"}}})
    assert client.get("pods", "p", "default")["status"]["nominatedNodeName"] == "n1"
    client.patch("pods", "p", "default", {"spec": {"nodeName": "n1"}})
    pod = client.get("pods", "p", "default")
    assert pod["spec"]["nodeName"] == "n1" and "nominatedNodeName" not in pod["status"]
    client.patch("pods", "p", "default", {"status": {"nominatedNodeName": "n1"}},
                 subresource="status")
    client.patch("pods", "p", "default", {"metadata": {"labels": {"a": "c"}}})
    assert client.get("pods", "p", "default")["status"]["nominatedNodeName"] == "n1"
