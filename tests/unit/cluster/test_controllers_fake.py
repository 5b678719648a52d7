"""Controllers end to end through the in-process API, with the in-memory container backend:
objects become pods, pods become (fake) containers, and their ends flow back into status."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.cluster.kubelet.backend import LABEL_NAMESPACE


def template(labels: dict[str, str], restart: str = "Always") -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"restartPolicy": restart, "containers": [
        {"name": "app", "image": "kompy/busybox:1"}]}}


def app_containers(fake_cluster: Any) -> list[Any]:
    return [c for c in fake_cluster.backend.running(**{LABEL_NAMESPACE: "default"})
            if c.labels.get("kompy.role") == "app"]


def test_a_deployment_scales_up_and_down(fake_cluster: Any) -> None:
    fake_cluster.client.create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": template({"app": "web"})}})
    fake_cluster.wait("3 available replicas", lambda: fake_cluster.client.get(
        "deployments", "web", "default").get("status", {}).get("availableReplicas") == 3)
    assert len(app_containers(fake_cluster)) == 3
    fake_cluster.client.patch("deployments", "web", "default", {"spec": {"replicas": 1}})
    fake_cluster.wait("1 container left", lambda: len(app_containers(fake_cluster)) == 1)
    fake_cluster.wait("1 pod left", lambda: len(
        fake_cluster.client.list("pods", "default", label_selector="app=web")["items"]) == 1)


def test_a_replicaset_replaces_a_pod_that_failed(fake_cluster: Any) -> None:
    fake_cluster.client.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "rs"}},
                 "template": template({"app": "rs"})}})
    first = fake_cluster.wait("a pod", lambda: fake_cluster.client.list(
        "pods", "default", label_selector="app=rs")["items"])[0]
    fake_cluster.client.delete("pods", first["metadata"]["name"], "default")
    fake_cluster.wait("a replacement pod", lambda: [
        p for p in fake_cluster.client.list("pods", "default", label_selector="app=rs")["items"]
        if p["metadata"]["uid"] != first["metadata"]["uid"]])


def test_a_job_completes_when_its_pods_succeed(fake_cluster: Any) -> None:
    fake_cluster.client.create({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
        "spec": {"completions": 2, "parallelism": 1,
                 "template": template({"job": "batch"}, restart="Never")}})
    for done in range(2):
        running = fake_cluster.wait(f"pod {done + 1} running", lambda: app_containers(
            fake_cluster))
        fake_cluster.backend.exit(running[0].id, 0)
        fake_cluster.wait(f"{done + 1} succeeded", lambda n=done + 1: fake_cluster.client.get(
            "jobs", "batch", "default").get("status", {}).get("succeeded") == n)
    job = fake_cluster.wait("the Complete condition", lambda: (
        j := fake_cluster.client.get("jobs", "batch", "default")) and any(
        c.get("type") == "Complete" and c.get("status") == "True"
        for c in j.get("status", {}).get("conditions") or []) and j)
    assert job["status"]["succeeded"] == 2


@pytest.mark.parametrize(("kind", "children", "caches"), [
    # Its pods are deleted (``kompy down``, the garbage collector) while the controller's
    # cache still holds the ReplicaSet (its deletion comes through another watch).
    ("ReplicaSet", "pods", ("owners", "pods")),
    # ``kompy down`` deletes a Deployment and its ReplicaSet at once; the ReplicaSet's
    # deletion may reach the Deployment controller before the Deployment's does.
    ("Deployment", "replicasets", ("deployments", "rs")),
])
def test_an_owner_deleted_a_moment_ago_does_not_make_its_children_again(
        fake_node: Any, kind: str, children: str, caches: tuple[str, str]) -> None:
    """The controller asks the API before making a child, instead of starting one that
    would only wait out its grace period."""
    from kompy.cluster.controllers.deployment import DeploymentController
    from kompy.cluster.controllers.replicaset import ReplicaSetController

    kinds = {"ReplicaSet": ReplicaSetController, "Deployment": DeploymentController}
    plural = f"{kind.lower()}s"
    cluster = fake_node.start()
    assert fake_node.runtime is not None
    controller = next(c for c in fake_node.runtime.controllers
                      if isinstance(c, kinds[kind]))
    owners, cached_children = (getattr(controller, name) for name in caches)

    def made() -> list[Any]:
        return list(cluster.client.list(children, "default")["items"])
    cluster.client.create({
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": template({"app": "web"})}})
    cluster.wait(f"its {children}", made)
    stale = cluster.client.get(plural, "web", "default")
    cluster.client.delete(plural, "web", "default")
    cluster.wait(f"its {children} gone, in the controller's cache too", lambda: not (
        made() or cached_children.list("default")))
    owners.upsert_local(stale)   # the cache has not heard of the deletion yet
    controller.sync(("default", "web"))
    assert made() == []


def test_a_replicaset_of_another_template_under_the_new_name_is_a_hash_collision(
        fake_cluster: Any) -> None:
    """getNewReplicaSet: a ReplicaSet named as the new one, owned by the Deployment but of
    another template, is not adopted; collisionCount goes up and the next hash names it."""
    from kompy.client.wellknown import HASH_LABEL
    from kompy.cluster.controllers.rollout import template_hash

    client = fake_cluster.client
    client.create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": template({"app": "web"})}})
    fake_cluster.wait("1 available replica", lambda: client.get(
        "deployments", "web", "default").get("status", {}).get("availableReplicas") == 1)
    dep = client.get("deployments", "web", "default")

    def annotated(value: str) -> dict[str, Any]:
        stored = dict(dep["spec"]["template"])
        return {**stored, "metadata": {**stored["metadata"], "annotations": {"v": value}}}
    wanted, squatter = annotated("2"), annotated("3")
    taken = template_hash(wanted, 0)
    client.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"web-{taken}", "labels": {"app": "web", HASH_LABEL: taken},
                     "ownerReferences": [{
                         "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                         "uid": dep["metadata"]["uid"], "controller": True}]},
        "spec": {"replicas": 0,
                 "selector": {"matchLabels": {"app": "web", HASH_LABEL: taken}},
                 "template": {**squatter, "metadata": {
                     **squatter["metadata"], "labels": {"app": "web", HASH_LABEL: taken}}}}})
    client.patch("deployments", "web", "default",
                 {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}})
    fresh = template_hash(wanted, 1)
    fake_cluster.wait("the Deployment rolled out to a ReplicaSet of the next hash", lambda: (
        (d := client.get("deployments", "web", "default")).get("status", {}).get(
            "updatedReplicas") == 1 and d["status"].get("availableReplicas") == 1
        and [rs["metadata"]["name"] for rs in client.list("replicasets", "default")["items"]
             if rs["spec"]["replicas"]] == [f"web-{fresh}"]))
    assert client.get("deployments", "web", "default")["status"]["collisionCount"] == 1
    kept = client.get("replicasets", f"web-{taken}", "default")
    assert kept["spec"]["template"]["metadata"]["annotations"] == {"v": "3"}
    assert kept["spec"]["replicas"] == 0
    new = client.get("replicasets", f"web-{fresh}", "default")
    assert new["spec"]["template"]["metadata"]["annotations"] == {"v": "2"}
