"""Storage object in-use protection and ReadWriteOncePod on the in-memory cluster (the real
API server, scheduler, controllers and kubelet; the fake engine)."""

from __future__ import annotations

from typing import Any

from .test_storage_quota_fake import bound, claim, events, get, pod_with

RWOP_MESSAGE = ("0/1 nodes are available: 1 node has pod using PersistentVolumeClaim with the "
                "same name and ReadWriteOncePod access mode. preemption: 0/1 nodes are "
                "available: 1 No preemption victims found for incoming pod.")


def _running(cluster: Any, pod: str) -> bool:
    found = get(cluster, "pods", pod) or {}
    return (found.get("status") or {}).get("phase") == "Running"


def _scheduling_message(cluster: Any, pod: str) -> str:
    found = get(cluster, "pods", pod) or {}
    return next((str(c.get("message")) for c in (found.get("status") or {}).get(
        "conditions") or [] if c.get("type") == "PodScheduled" and c.get("status") == "False"),
        "")


def test_new_claims_and_volumes_carry_their_protection_finalizers(fake_cluster: Any) -> None:
    made = fake_cluster.client.create(claim("data"))
    assert made["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    done = fake_cluster.wait("the claim bound", lambda: bound(fake_cluster, "data"))
    volume = fake_cluster.client.get("persistentvolumes", done["spec"]["volumeName"])
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]


def test_a_claim_in_use_stays_terminating_until_its_pod_is_gone(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(claim("data"))
    client.create(pod_with("app", "data"))
    fake_cluster.wait("the pod running", lambda: _running(fake_cluster, "app"))
    volume_name = bound(fake_cluster, "data")["spec"]["volumeName"]  # type: ignore[index]
    left = client.delete("persistentvolumeclaims", "data", "default")
    assert left is not None and left["metadata"]["deletionTimestamp"]
    # A new pod may not use a claim being deleted.
    client.create(pod_with("late", "data"))
    assert fake_cluster.wait("the late pod refused", lambda: _scheduling_message(
        fake_cluster, "late")) == ('0/1 nodes are available: persistentvolumeclaim "data" is '
                                   "being deleted. preemption: 0/1 nodes are available: 1 "
                                   "Preemption is not helpful for scheduling.")
    # By then (the controllers have seen the deletion) the claim is still there, Terminating,
    # and its volume still Bound: the pod writes on.
    found = get(fake_cluster, "persistentvolumeclaims", "data")
    assert found is not None and found["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection"]
    assert client.get("persistentvolumes", volume_name)["status"]["phase"] == "Bound"
    assert _running(fake_cluster, "app")
    client.delete("pods", "late", "default")
    client.delete("pods", "app", "default")
    fake_cluster.wait("the claim gone", lambda: get(
        fake_cluster, "persistentvolumeclaims", "data") is None, timeout=30)
    # Its Delete volume follows, once Released (pv-protection lets it go then).
    fake_cluster.wait("the volume gone", lambda: get(
        fake_cluster, "persistentvolumes", volume_name, None) is None, timeout=30)


def test_a_bound_volume_stays_terminating_until_its_claim_is_gone(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(claim("data"))
    volume_name = fake_cluster.wait("the claim bound", lambda: bound(
        fake_cluster, "data"))["spec"]["volumeName"]
    left = client.delete("persistentvolumes", volume_name)
    assert left is not None and left["metadata"]["deletionTimestamp"]
    assert get(fake_cluster, "persistentvolumes", volume_name, None) is not None
    client.delete("persistentvolumeclaims", "data", "default")
    fake_cluster.wait("the volume gone", lambda: get(
        fake_cluster, "persistentvolumes", volume_name, None) is None, timeout=30)


def test_an_older_claim_without_the_finalizer_gets_it(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(claim("data"))
    client.patch("persistentvolumeclaims", "data", "default",
                 {"metadata": {"finalizers": None}})
    fake_cluster.wait("the finalizer back", lambda: (get(
        fake_cluster, "persistentvolumeclaims", "data") or {})["metadata"].get("finalizers"))


def test_a_read_write_once_pod_claim_takes_one_pod(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(claim("solo", accessModes=["ReadWriteOncePod"]))
    client.create(pod_with("first", "solo"))
    fake_cluster.wait("the first pod running", lambda: _running(fake_cluster, "first"))
    client.create(pod_with("second", "solo"))
    assert fake_cluster.wait("the second pod unschedulable", lambda: _scheduling_message(
        fake_cluster, "second")) == RWOP_MESSAGE
    # The scheduler posts its Event in the background, after the status: waited for too.
    fake_cluster.wait("the FailedScheduling event", lambda: (
        "FailedScheduling", RWOP_MESSAGE) in events(fake_cluster, "second"))
    assert (get(fake_cluster, "pods", "second") or {})["status"]["phase"] == "Pending"
    client.delete("pods", "first", "default")
    fake_cluster.wait("the second pod running once the first is gone",
                      lambda: _running(fake_cluster, "second"), timeout=30)


def test_the_kubelet_starts_no_new_pod_on_a_claim_being_deleted(fake_cluster: Any) -> None:
    """A pod bound to the node when its claim starts deleting (the scheduler saw it before,
    or it named its node itself) does not start: upstream's volume manager refuses a claim
    being deleted ("PVC is being deleted"). A pod already using it goes on, restarts
    included, until it is gone."""
    client = fake_cluster.client
    client.create(claim("data"))
    client.create(pod_with("app", "data"))
    fake_cluster.wait("the pod running", lambda: _running(fake_cluster, "app"))
    client.delete("persistentvolumeclaims", "data", "default")
    fake_cluster.wait("the claim terminating", lambda: (
        get(fake_cluster, "persistentvolumeclaims", "data") or {}).get(
        "metadata", {}).get("deletionTimestamp"))
    client.create(pod_with("late", "data", node="kompy"))

    message = "error processing PVC default/data: PVC is being deleted"
    fake_cluster.wait("the late pod refused", lambda: ("FailedMount", message) in events(
        fake_cluster, "late"))
    # The kubelet records the event before it writes the status that says the same.
    waiting = {"reason": "ContainerCreating", "message": message}
    late = fake_cluster.wait("the late pod's status saying why", lambda: (
        pod if (pod := get(fake_cluster, "pods", "late")) and [
            s.get("state", {}).get("waiting")
            for s in pod["status"].get("containerStatuses") or []] == [waiting] else None))
    assert late["status"]["phase"] == "Pending"
    assert not fake_cluster.backend.list_containers({"kompy.pod": "late"})

    first = fake_cluster.running("app", "c")
    assert first is not None
    fake_cluster.backend.exit(first.id, 1)
    fake_cluster.wait("the running pod restarted on its claim", lambda: (
        c := fake_cluster.running("app", "c")) and c.id != first.id)
    assert not [e for e in events(fake_cluster, "app") if e[0] == "FailedMount"]

    client.delete("pods", "late", "default")
    client.delete("pods", "app", "default")
    fake_cluster.wait("the claim gone", lambda: get(
        fake_cluster, "persistentvolumeclaims", "data") is None, timeout=30)
