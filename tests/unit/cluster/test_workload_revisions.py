"""StatefulSet and DaemonSet revision bookkeeping through whole rolling updates, on the
fake backend: ControllerRevisions, and currentRevision kept until the update completes
(pkg/controller/statefulset updateStatefulSetStatus / completeRollingUpdate)."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client import NotFound

HELD = "kompy/busybox:held"  # an image whose containers the fake engine will not start
IMAGES = {HELD, "kompy/busybox:2", "kompy/busybox:3"}


@pytest.fixture(autouse=True)
def pullable(fake_cluster: Any) -> None:
    fake_cluster.backend.pullable |= IMAGES


def sts(image: str, replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "serviceName": "web",
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": _template("web", image), **spec}}


def _template(app: str, image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def status(cluster: Any, resource: str = "statefulsets", name: str = "web") -> dict[str, Any]:
    return dict(cluster.client.get(resource, name, "default").get("status") or {})


def revisions(cluster: Any) -> dict[str, int]:
    """Revision name -> revision number."""
    found = cluster.client.list("controllerrevisions", "default")["items"]
    return {r["metadata"]["name"]: int(r["revision"]) for r in found}


def pod_revision(cluster: Any, pod: str) -> str | None:
    found = cluster.pod(pod) or {}
    return (found.get("metadata") or {}).get("labels", {}).get("controller-revision-hash")


def set_image(cluster: Any, image: str, resource: str = "statefulsets", name: str = "web",
              **spec: Any) -> None:
    cluster.client.patch(resource, name, "default", {"spec": {
        "template": {"spec": {"containers": [{"name": "app", "image": image}]}}, **spec}})


def hold(cluster: Any, held: bool) -> None:
    cluster.backend.start_error = (lambda spec: "held by the test"
                                   if held and spec.image == HELD else "")


def settled(cluster: Any, revision: str, replicas: int = 3) -> dict[str, Any] | None:
    now = status(cluster)
    done = (now.get("currentRevision") == revision and now.get("updateRevision") == revision
            and now.get("readyReplicas") == replicas and now.get("currentReplicas") == replicas)
    return now if done else None


def settled_anew(cluster: Any, old: set[str]) -> str | None:
    """The update revision, once the single replica is at a revision not in ``old``."""
    now = status(cluster).get("updateRevision", "")
    return now if now not in old and settled(cluster, now, 1) else None


# Defaulted to a rollingUpdate with partition 0, or (type given alone) none: then a pod is
# re-made at the current revision only below status.currentReplicas.
@pytest.mark.parametrize("strategy", [{}, {"updateStrategy": {"type": "RollingUpdate"}}],
                         ids=["partition-0", "no-rollingUpdate"])
def test_a_statefulset_keeps_its_current_revision_until_the_update_completes(
        fake_cluster: Any, strategy: dict[str, Any]) -> None:
    fake_cluster.client.create(sts("kompy/busybox:1", **strategy))
    first = fake_cluster.wait("the first rollout", lambda: (
        status(fake_cluster).get("readyReplicas") == 3 and status(fake_cluster)))
    rev1 = first["updateRevision"]
    assert first["currentRevision"] == rev1 and first["currentReplicas"] == 3
    assert revisions(fake_cluster) == {rev1: 1}
    assert rev1.startswith("web-")

    hold(fake_cluster, True)
    set_image(fake_cluster, HELD)
    mid = fake_cluster.wait("web-2 re-made at the new revision", lambda: (
        (s := status(fake_cluster)).get("updatedReplicas") == 1
        and pod_revision(fake_cluster, "web-2") == s.get("updateRevision") and s))
    rev2 = mid["updateRevision"]
    assert rev2 != rev1
    assert mid["currentRevision"] == rev1
    assert (mid["currentReplicas"], mid["updatedReplicas"]) == (2, 1)
    assert revisions(fake_cluster) == {rev1: 1, rev2: 2}
    assert [pod_revision(fake_cluster, f"web-{i}") for i in (0, 1)] == [rev1, rev1]

    hold(fake_cluster, False)
    done = fake_cluster.wait("the update to complete", lambda: settled(fake_cluster, rev2))
    assert done["updatedReplicas"] == 3
    pods = [fake_cluster.pod(f"web-{i}") or {} for i in range(3)]
    assert [p["spec"]["containers"][0]["image"] for p in pods] == [HELD] * 3


def test_a_partitioned_statefulset_stays_at_its_current_revision(fake_cluster: Any) -> None:
    fake_cluster.client.create(sts("kompy/busybox:1", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    rev1 = fake_cluster.wait("the first rollout", lambda: (
        (s := status(fake_cluster)).get("readyReplicas") == 3 and s))["currentRevision"]
    set_image(fake_cluster, "kompy/busybox:2")
    part = fake_cluster.wait("web-2 updated and ready", lambda: (
        (s := status(fake_cluster)).get("updatedReplicas") == 1
        and s.get("readyReplicas") == 3 and fake_cluster.ready("web-2")
        and pod_revision(fake_cluster, "web-2") == s.get("updateRevision") and s))
    assert part["currentRevision"] == rev1 != part["updateRevision"]
    assert part["currentReplicas"] == 2
    # A pod below the partition comes back at the current revision, with its template.
    uid = fake_cluster.pod("web-0")["metadata"]["uid"]
    fake_cluster.client.delete("pods", "web-0", "default", grace_period_seconds=0)
    back = fake_cluster.wait("web-0 re-made", lambda: (
        (p := fake_cluster.pod("web-0")) and p["metadata"]["uid"] != uid and p))
    assert back["metadata"]["labels"]["controller-revision-hash"] == rev1
    assert back["spec"]["containers"][0]["image"] == "kompy/busybox:1"
    # Lowering the partition to 0 finishes the update; only then does it become current.
    fake_cluster.client.patch("statefulsets", "web", "default", {"spec": {
        "updateStrategy": {"rollingUpdate": {"partition": 0}}}})
    rev2 = part["updateRevision"]
    fake_cluster.wait("the update to complete", lambda: settled(fake_cluster, rev2))


def test_a_rollback_renumbers_the_old_revision_and_history_is_bounded(
        fake_cluster: Any) -> None:
    fake_cluster.client.create(sts("kompy/busybox:1", replicas=1, revisionHistoryLimit=1))
    rev1 = fake_cluster.wait("the first rollout", lambda: (
        (s := status(fake_cluster)).get("readyReplicas") == 1 and s))["currentRevision"]
    set_image(fake_cluster, "kompy/busybox:2")
    rev2 = fake_cluster.wait("the second", lambda: settled_anew(fake_cluster, {rev1}))
    set_image(fake_cluster, "kompy/busybox:1")  # back to the first template
    fake_cluster.wait("the rollback", lambda: settled(fake_cluster, rev1, 1))
    fake_cluster.wait("rev1 renumbered 3, rev2 kept as the one allowed spare", lambda: (
        revisions(fake_cluster) == {rev1: 3, rev2: 2}))
    set_image(fake_cluster, "kompy/busybox:3")
    rev3 = fake_cluster.wait("the third", lambda: settled_anew(fake_cluster, {rev1, rev2}))
    fake_cluster.wait("the oldest spare (rev2) deleted", lambda: (
        revisions(fake_cluster) == {rev1: 3, rev3: 4}))


def test_a_daemonset_keeps_its_templates_as_revisions(fake_cluster: Any) -> None:
    fake_cluster.client.create({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": _template("agent", "kompy/busybox:1")}})
    first = fake_cluster.wait("the daemon pod", lambda: (
        (s := status(fake_cluster, "daemonsets", "agent")).get("numberReady") == 1 and s))
    assert first["updatedNumberScheduled"] == 1
    (rev1,) = revisions(fake_cluster)
    hold(fake_cluster, True)
    set_image(fake_cluster, HELD, "daemonsets", "agent")
    fake_cluster.wait("two revisions, the new one numbered 2", lambda: (
        sorted(revisions(fake_cluster).values()) == [1, 2]))
    (rev2,) = set(revisions(fake_cluster)) - {rev1}
    pods = fake_cluster.client.list("pods", "default")["items"]
    assert all(f"agent-{p['metadata']['labels']['controller-revision-hash']}" in (rev1, rev2)
               for p in pods)
    hold(fake_cluster, False)
    fake_cluster.wait("the new pod ready", lambda: (
        (s := status(fake_cluster, "daemonsets", "agent")).get("numberReady") == 1
        and s.get("updatedNumberScheduled") == 1))
    fake_cluster.client.delete("daemonsets", "agent", "default")

    def gone() -> bool:
        try:
            return not revisions(fake_cluster)
        except NotFound:
            return True
    fake_cluster.wait("the revisions collected with their DaemonSet", gone)
