"""A DaemonSet with the OnDelete strategy on the fake backend: a new template replaces no
pod by itself; a pod someone deletes comes back with the new template."""

from __future__ import annotations

from typing import Any


def agent(image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": {"type": "OnDelete"},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                         "containers": [{"name": "app", "image": image}]}}}}


def pods(cluster: Any) -> list[dict[str, Any]]:
    return [p for p in cluster.client.list("pods", "default", label_selector="app=agent")[
        "items"] if not p["metadata"].get("deletionTimestamp")]


def test_on_delete_keeps_old_pods_until_they_are_deleted(fake_cluster: Any) -> None:
    fake_cluster.backend.pullable |= {"kompy/busybox:2"}
    fake_cluster.client.create(agent("kompy/busybox:1"))
    first = fake_cluster.wait("the daemon pod Ready", lambda: (
        found := pods(fake_cluster)) and fake_cluster.ready(found[0]["metadata"]["name"])
        and found[0])
    fake_cluster.client.patch("daemonsets", "agent", "default", {"spec": {"template": {
        "spec": {"containers": [{"name": "app", "image": "kompy/busybox:2"}]}}}})
    generation = fake_cluster.client.get("daemonsets", "agent", "default")["metadata"][
        "generation"]
    # Once the controller has written the new generation's status, its sync has run.
    status = fake_cluster.wait("the new template observed", lambda: (
        s := fake_cluster.client.get("daemonsets", "agent", "default")["status"]).get(
        "observedGeneration") == generation and s)
    assert status["updatedNumberScheduled"] == 0
    assert [p["metadata"]["uid"] for p in pods(fake_cluster)] == [first["metadata"]["uid"]]
    fake_cluster.client.delete("pods", first["metadata"]["name"], "default")
    replacement = fake_cluster.wait("a replacement", lambda: [
        p for p in pods(fake_cluster) if p["metadata"]["uid"] != first["metadata"]["uid"]])
    assert replacement[0]["spec"]["containers"][0]["image"] == "kompy/busybox:2"
    fake_cluster.wait("the update counted", lambda: fake_cluster.client.get(
        "daemonsets", "agent", "default")["status"].get("updatedNumberScheduled") == 1)
