"""The scheduler's VolumeBinding on the in-memory cluster (the real API server, scheduler,
PersistentVolume controller and kubelet; the fake engine): a pod reaches its node only once
its claims are bound, so the kubelet never reports an unbound claim."""

from __future__ import annotations

import random
from typing import Any

from kompy.cluster.scheduler.scheduler import place
from kompy.cluster.scheduler.snapshot import Snapshot

from .test_storage_quota_fake import claim, events, get, pod_with, storage_class, volume

SELECTED_NODE = "volume.kubernetes.io/selected-node"
UNBOUND_IMMEDIATE = ("0/1 nodes are available: pod has unbound immediate "
                     "PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 "
                     "Preemption is not helpful for scheduling.")
# A provisioner nobody runs: the claim binds only to the volume the test makes.
EXTERNAL = "example.com/nobody"


def _node(cluster: Any, pod: str) -> str:
    return str(((get(cluster, "pods", pod) or {}).get("spec") or {}).get("nodeName") or "")


def _running(cluster: Any, pod: str) -> bool:
    return ((get(cluster, "pods", pod) or {}).get("status") or {}).get("phase") == "Running"


def _condition(cluster: Any, pod: str) -> dict[str, Any]:
    found = get(cluster, "pods", pod) or {}
    return next((c for c in (found.get("status") or {}).get("conditions") or []
                 if c.get("type") == "PodScheduled"), {})


def _no_failed_mount(cluster: Any, pod: str) -> None:
    assert [e for e in events(cluster, pod) if e[0] == "FailedMount"] == []


def _plain_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace":
                                                           "default"},
            "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}}


def test_a_delayed_claim_is_selected_and_bound_before_its_pod(fake_cluster: Any) -> None:
    """WaitForFirstConsumer: the scheduler writes the chosen node on the claim and binds the
    pod only once the claim is bound; another pod is scheduled meanwhile."""
    client = fake_cluster.client
    client.create(storage_class("late", provisioner=EXTERNAL,
                                volumeBindingMode="WaitForFirstConsumer"))
    client.create(claim("data", storageClassName="late"))
    client.create(pod_with("app", "data"))
    fake_cluster.wait("the node selected on the claim", lambda: (
        (get(fake_cluster, "persistentvolumeclaims", "data") or {}).get("metadata", {}).get(
            "annotations") or {}).get(SELECTED_NODE) == "kompy")
    client.create(_plain_pod("other"))
    fake_cluster.wait("the other pod running", lambda: _running(fake_cluster, "other"))
    assert _node(fake_cluster, "app") == ""   # still waiting for its claim

    client.create(volume("disk", "1Gi", storageClassName="late"))
    fake_cluster.wait("the pod running on its bound claim", lambda: _running(
        fake_cluster, "app"))
    assert _node(fake_cluster, "app") == "kompy"
    assert (get(fake_cluster, "persistentvolumeclaims", "data") or {})["spec"][
        "volumeName"] == "disk"
    _no_failed_mount(fake_cluster, "app")


def test_a_provisioned_delayed_claim_never_shows_the_kubelet_unbound(fake_cluster: Any
                                                                   ) -> None:
    """kompy's own provisioner, WaitForFirstConsumer: provisioned on the selected node, and
    the pod runs without a FailedMount "is not bound" on the way."""
    client = fake_cluster.client
    client.create(storage_class("local-late", volumeBindingMode="WaitForFirstConsumer"))
    client.create(claim("data", storageClassName="local-late"))
    client.create(pod_with("app", "data"))
    fake_cluster.wait("the pod running", lambda: _running(fake_cluster, "app"))
    made = get(fake_cluster, "persistentvolumeclaims", "data") or {}
    assert made["metadata"]["annotations"][SELECTED_NODE] == "kompy"
    assert ("ProvisioningSucceeded", f"Successfully provisioned volume "
            f"{made['spec']['volumeName']}") in events(fake_cluster, "data")
    _no_failed_mount(fake_cluster, "app")


def test_an_unbound_immediate_claim_keeps_its_pod_pending_until_bound(fake_cluster: Any
                                                                    ) -> None:
    client = fake_cluster.client
    client.create(storage_class("ext", provisioner=EXTERNAL))
    client.create(claim("data", storageClassName="ext"))
    client.create(pod_with("app", "data"))
    fake_cluster.wait("the pod refused", lambda: ("FailedScheduling", UNBOUND_IMMEDIATE) in
                      events(fake_cluster, "app"))
    condition = fake_cluster.wait("its condition", lambda: (
        c := _condition(fake_cluster, "app")) and c.get("message") == UNBOUND_IMMEDIATE and c)
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert _node(fake_cluster, "app") == ""

    client.create(volume("disk", "1Gi", storageClassName="ext"))
    fake_cluster.wait("the pod running once its claim is bound", lambda: _running(
        fake_cluster, "app"))
    _no_failed_mount(fake_cluster, "app")


def test_a_pod_whose_claim_is_missing_waits_for_it(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(pod_with("app", "data"))
    message = ('0/1 nodes are available: persistentvolumeclaim "data" not found. '
               "preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
               "scheduling.")
    fake_cluster.wait("the pod refused", lambda: ("FailedScheduling", message) in events(
        fake_cluster, "app"))
    assert _node(fake_cluster, "app") == ""
    client.create(claim("data"))
    fake_cluster.wait("the pod running", lambda: _running(fake_cluster, "app"))
    _no_failed_mount(fake_cluster, "app")


def test_a_claim_not_bound_in_time_fails_the_binding_cycle(fake_cluster: Any) -> None:
    """PreBind's timeout (--bind-timeout-seconds): FailedScheduling with the plugin's error,
    PodScheduled False (SchedulerError); the pod is tried again and runs once bound."""
    fake_cluster.runtime.scheduler.volumes.timeout = 0.5
    client = fake_cluster.client
    client.create(storage_class("late", provisioner=EXTERNAL,
                                volumeBindingMode="WaitForFirstConsumer"))
    client.create(claim("data", storageClassName="late"))
    client.create(pod_with("app", "data"))
    message = 'running PreBind plugin "VolumeBinding": binding volumes: context deadline exceeded'
    fake_cluster.wait("the binding cycle failed", lambda: ("FailedScheduling", message) in
                      events(fake_cluster, "app"))
    fake_cluster.wait("its condition", lambda: _condition(fake_cluster, "app").get(
        "reason") == "SchedulerError")
    assert _node(fake_cluster, "app") == ""

    fake_cluster.runtime.scheduler.volumes.timeout = 60.0
    client.create(volume("disk", "1Gi", storageClassName="late"))
    fake_cluster.wait("the pod running", lambda: _running(fake_cluster, "app"))
    _no_failed_mount(fake_cluster, "app")


def test_a_claim_selected_for_a_node_takes_no_other_node() -> None:
    """VolumeBinding's Filter: an unbound delayed claim already selected for a node (an
    earlier pod's PreBind) keeps a second pod of it off the other nodes; bound, it does not."""
    names = ("kompy", "kompy-m02", "kompy-m03")
    nodes = [{"metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}, "spec": {},
              "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}
             for n in names]
    user = pod_with("second", "data")
    user["metadata"]["uid"] = "uid-second"
    selected = claim("data", storageClassName="late")
    selected["metadata"]["annotations"] = {SELECTED_NODE: "kompy-m02"}
    snap = Snapshot.build(nodes, [])
    chosen = {place(user, snap, {"default": {}}, random.Random(seed),
                    claims=lambda _ns, _name: selected)[0] for seed in range(8)}
    assert chosen == {"kompy-m02"}

    selected["metadata"]["annotations"][SELECTED_NODE] = "elsewhere"
    assert place(user, snap, {"default": {}}, claims=lambda _ns, _name: selected) == (
        None, "0/3 nodes are available: 3 node(s) didn't find available persistent volumes "
        "to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
        "scheduling.")

    selected["spec"]["volumeName"] = "disk"
    selected["status"] = {"phase": "Bound"}
    assert place(user, snap, {"default": {}}, claims=lambda _ns, _name: selected)[0] in names
