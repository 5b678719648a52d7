"""The kubelet after a crash of the daemon (``kill -9``): whatever Docker holds for each pod is
adopted or replaced, whatever the pod's status says, and containers of pods that no longer
exist are removed. The runtime crashes and starts again in process over the same store and
the same (in-memory) containers."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from kompy.cluster.kubelet.backend import (
    LABEL_ATTEMPT,
    LABEL_CONTAINER,
    LABEL_POD,
    LABEL_POD_UID,
    LABEL_ROLE,
    ContainerSpec,
)
from kompy.errors import ClusterError


def bound_pod(name: str, **container: Any) -> dict[str, Any]:
    """A pod the scheduler has bound to the node, as the store holds it after a crash that
    came before the kubelet's first status write."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "kompy", "terminationGracePeriodSeconds": 1, "containers": [
                {"name": "app", "image": "kompy/busybox:1", **container}]}}


def leftover(node: Any, pod: dict[str, Any], cname: str = "app", attempt: int = 0,
             *, start: bool = True) -> str:
    """A container as the kubelet creates it (its name and labels), made behind its back."""
    uid = pod["metadata"]["uid"]
    labels = node.backend.labels("default", f"Pod/{pod['metadata']['name']}", **{
        LABEL_POD: pod["metadata"]["name"], LABEL_POD_UID: uid, LABEL_CONTAINER: cname,
        LABEL_ROLE: "app", LABEL_ATTEMPT: str(attempt)})
    name = f"kompy_fake_default_{pod['metadata']['name']}_{cname}_{uid[:8]}_{attempt}"
    node.backend.ensure_network("kompy-fake-default", {})
    cid: str = node.backend.create(ContainerSpec(name=name, image="kompy/busybox:1",
                                                 labels=labels, network="kompy-fake-default"))
    if start:
        node.backend.start(cid)
    return cid


@pytest.mark.parametrize("started", [True, False], ids=["running", "created-not-started"])
def test_a_container_made_before_the_first_status_write_is_adopted(
        fake_node: Any, caplog: pytest.LogCaptureFixture, started: bool) -> None:
    pod = fake_node.client.create(bound_pod("web"))
    cid = leftover(fake_node, pod, start=started)
    cluster = fake_node.start()
    with caplog.at_level(logging.WARNING):
        cluster.wait("web Running on the container that was there", lambda: (
            (cluster.pod("web") or {}).get("status", {}).get("phase") == "Running"))
    status = cluster.status_of("web", "app")
    assert status["containerID"] == f"docker://{cid}"
    assert status["restartCount"] == 0
    apps = fake_node.backend.list_containers({LABEL_POD: "web"})
    assert [c.id for c in apps] == [cid]  # adopted: not duplicated, not replaced
    assert "already in use" not in caplog.text


def test_a_lost_answer_to_a_create_is_adopted(fake_node: Any) -> None:
    """Docker made the container but its answer never came (a connection lost mid-call):
    the next attempt finds it by its name instead of failing on the name forever."""
    create = fake_node.backend.create
    lost: list[str] = []

    def create_then_lose_the_answer(spec: ContainerSpec) -> str:
        cid: str = create(spec)
        if not lost and LABEL_POD_UID in spec.labels:  # a pod's, not the node's container
            lost.append(cid)
            raise ClusterError(f"create container {spec.name}: connection aborted")
        return cid

    fake_node.backend.create = create_then_lose_the_answer
    cluster = fake_node.start()
    fake_node.client.create(bound_pod("web"))
    cluster.wait("web Running", lambda: (
        (cluster.pod("web") or {}).get("status", {}).get("phase") == "Running"))
    assert [c.id for c in fake_node.backend.list_containers({LABEL_POD: "web"})] == lost


def test_a_crash_in_the_middle_of_a_scale_up_converges(fake_node: Any) -> None:
    """The daemon dies while pods get their containers, after Docker made them and before
    any status was written; after the start every pod runs exactly one container."""
    create = fake_node.backend.create
    frozen, released = threading.Event(), threading.Event()
    made: list[str] = []

    def create_then_freeze(spec: ContainerSpec) -> str:
        cid: str = create(spec)
        if not frozen.is_set() or LABEL_POD_UID not in spec.labels:
            return cid
        made.append(cid)
        released.wait()  # the process is dead: this thread never reports what it made
        raise ClusterError("the daemon was killed")

    fake_node.backend.create = create_then_freeze
    cluster = fake_node.start()
    frozen.set()
    try:
        for i in range(6):
            fake_node.client.create(bound_pod(f"p{i}"))
        cluster.wait("six containers made", lambda: len(made) == 6)
        assert all(not (cluster.pod(f"p{i}") or {}).get("status", {}).get("containerStatuses")
                   for i in range(6))
        fake_node.crash()
        fake_node.backend.create = create
        cluster = fake_node.start()
    finally:
        released.set()
    for i in range(6):
        cluster.wait(f"p{i} Running", lambda i=i: (
            (cluster.pod(f"p{i}") or {}).get("status", {}).get("phase") == "Running"))
    per_pod: dict[str, int] = {}
    for c in fake_node.backend.list_containers({LABEL_ROLE: "app"}):
        per_pod[c.labels[LABEL_POD]] = per_pod.get(c.labels[LABEL_POD], 0) + 1
    assert per_pod == {f"p{i}": 1 for i in range(6)}


def test_containers_of_pods_that_no_longer_exist_are_removed_at_start(fake_node: Any) -> None:
    pod = fake_node.client.create(bound_pod("gone"))
    orphan = leftover(fake_node, pod)
    fake_node.client.delete("pods", "gone", "default", grace_period_seconds=0)
    kept = fake_node.client.create(bound_pod("kept"))
    mine = leftover(fake_node, kept)
    cluster = fake_node.start()
    cluster.wait("the orphan removed", lambda: orphan not in fake_node.backend.containers)
    cluster.wait("kept Running", lambda: (
        (cluster.pod("kept") or {}).get("status", {}).get("phase") == "Running"))
    assert mine in fake_node.backend.containers


@pytest.mark.parametrize("freeze_at", [1, 2, 3], ids=["sandbox", "first-app", "second-app"])
def test_a_pod_with_a_sandbox_converges_after_a_crash_at_any_create(
        fake_node: Any, freeze_at: int) -> None:
    """A pod of two containers (a sandbox and two apps): whichever create the daemon dies
    after, the next one ends with one running sandbox and one running container each."""
    create = fake_node.backend.create
    calls: list[str] = []
    released = threading.Event()

    def create_then_freeze(spec: ContainerSpec) -> str:
        cid: str = create(spec)
        if LABEL_POD_UID not in spec.labels:  # the node's own container
            return cid
        calls.append(cid)
        if len(calls) == freeze_at:
            released.wait()
            raise ClusterError("the daemon was killed")
        return cid

    fake_node.backend.create = create_then_freeze
    cluster = fake_node.start()
    try:
        pod = bound_pod("duo")
        pod["spec"]["containers"].append({"name": "side", "image": "kompy/busybox:1"})
        fake_node.client.create(pod)
        cluster.wait("the frozen create", lambda: len(calls) >= freeze_at)
        fake_node.crash()
        fake_node.backend.create = create
        cluster = fake_node.start()
        cluster.wait("duo Running and Ready", lambda: cluster.ready("duo"))
    finally:
        released.set()
    running = fake_node.backend.running(**{LABEL_POD: "duo"})
    roles = sorted(c.labels[LABEL_CONTAINER] for c in running)
    assert roles == ["POD", "app", "side"]
