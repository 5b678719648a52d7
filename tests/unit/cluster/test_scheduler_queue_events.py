"""The scheduler's queue fed by the informers of a whole cluster (fake engine): a pod that
waits for a node label is not tried again when pods come and go, and is bound as soon as a
node gets the label."""

from __future__ import annotations

from typing import Any

from kompy.cluster.scheduler.queue import UNSCHEDULABLE


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                {"name": "app", "image": "kompy/busybox:1"}], **spec}}


def test_a_pod_waiting_for_a_label_ignores_pod_churn_and_follows_the_label(
        fake_node: Any) -> None:
    cluster = fake_node.start()
    scheduler = fake_node.runtime.scheduler
    node = cluster.wait("the node", lambda: cluster.client.list("nodes")["items"])[0]
    cluster.client.create(pod("picky", nodeSelector={"disk": "ssd"}))
    key = ("default", "picky")
    cluster.wait("the picky pod unschedulable", lambda: scheduler.queue.where(key)
                 == UNSCHEDULABLE)
    attempts = scheduler.queue.get(key).attempts

    for i in range(3):                       # pods bound and deleted beside it
        cluster.client.create(pod(f"churn{i}"))
        cluster.wait("a churn pod bound", lambda n=f"churn{i}": (cluster.pod(n) or {}).get(
            "spec", {}).get("nodeName"))
        cluster.client.delete("pods", f"churn{i}", "default", grace_period_seconds=0)
        cluster.wait("the churn pod gone", lambda n=f"churn{i}": cluster.pod(n) is None)
    cluster.wait("the scheduler's cache without the churn pods", lambda: not any(
        scheduler.cache.known(pod(f"churn{i}"))[0] for i in range(3)))
    with scheduler._events_lock:             # the last deletion's event was weighed
        pass
    assert scheduler.queue.where(key) == UNSCHEDULABLE
    assert scheduler.queue.get(key).attempts == attempts

    cluster.client.patch("nodes", node["metadata"]["name"], None,
                         {"metadata": {"labels": {"disk": "ssd"}}})
    bound = cluster.wait("the picky pod bound once the node has the label", lambda: (
        cluster.pod("picky") or {}).get("spec", {}).get("nodeName"), timeout=15)
    assert bound == node["metadata"]["name"]
