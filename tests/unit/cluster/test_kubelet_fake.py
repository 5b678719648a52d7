"""The kubelet's state machine on the in-memory backend: start, crash and restart with
back-off, probe-driven readiness and liveness, deletion within the grace period."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client.objects import terminating
from kompy.cluster.kubelet.backend import LABEL_POD, ContainerInfo


def pod(name: str, *, restart: str = "Always", grace: int | None = None,
        **container: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart, "containers": [
        {"name": "app", "image": "kompy/busybox:1", **container}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_a_pod_is_created_started_and_reported_running(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("web", command=["httpd"], env=[{"name": "A", "value": "1"}]))
    running = fake_cluster.wait("web's container to run",
                                lambda: fake_cluster.running("web", "app"))
    assert fake_cluster.backend.containers[running.id].spec.env["A"] == "1"
    # Kubernetes' command replaces the image's ENTRYPOINT.
    assert fake_cluster.backend.containers[running.id].spec.entrypoint == ["httpd"]
    fake_cluster.wait("web to be Ready", lambda: fake_cluster.ready("web"))
    status = fake_cluster.pod("web")["status"]
    assert status["phase"] == "Running"
    assert status["podIP"] == running.ip
    assert "running" in fake_cluster.status_of("web", "app")["state"]


def test_a_crashed_container_restarts_then_backs_off(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("crash"))
    first = fake_cluster.wait("the first container", lambda: fake_cluster.running("crash", "app"))
    fake_cluster.backend.exit(first.id, 1)
    # The first restart is immediate (restartCount 0 -> no back-off).
    second = fake_cluster.wait("a restarted container", lambda: (
        c := fake_cluster.running("crash", "app")) and c.id != first.id and c)
    assert second.attempt == first.attempt + 1
    status = fake_cluster.wait("restartCount 1", lambda: (
        s := fake_cluster.status_of("crash", "app")) and s.get("restartCount") == 1 and s)
    assert status["lastState"]["terminated"]["exitCode"] == 1


@pytest.mark.parametrize("fake_cluster", [60.0], indirect=True)
def test_crash_loop_back_off_holds_the_next_start(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("loop"))
    first = fake_cluster.wait("the first container", lambda: fake_cluster.running("loop", "app"))
    fake_cluster.backend.exit(first.id, 2)
    second = fake_cluster.wait("the immediate restart", lambda: (
        c := fake_cluster.running("loop", "app")) and c.id != first.id and c)
    fake_cluster.backend.exit(second.id, 2)

    waiting = fake_cluster.wait("CrashLoopBackOff", lambda: (
        fake_cluster.status_of("loop", "app").get("state") or {}).get("waiting"))
    assert waiting["reason"] == "CrashLoopBackOff"
    assert waiting["message"].startswith("back-off 60s restarting failed container=app")
    # Held: no third container while the 60 s back-off runs.
    attempts = [c for c in fake_cluster.backend.list_containers({LABEL_POD: "loop"})
                if c.labels.get("kompy.role") == "app"]
    assert len(attempts) == 2 and not any(c.running for c in attempts)


@pytest.mark.parametrize("fake_cluster", [60.0], indirect=True)
def test_a_restart_request_after_a_crash_cuts_the_back_off_short(fake_cluster: Any) -> None:
    """`kompy dev` stamps the restart annotation when a save may fix a crash-looping pod:
    the container starts at once instead of after its back-off, a new attempt (from the
    image, as a kubelet restart is); an earlier request changes nothing."""
    import datetime as dt

    from kompy.client.wellknown import RESTART_ANNOTATION

    fake_cluster.client.create(pod("loop"))
    first = fake_cluster.wait("the first container", lambda: fake_cluster.running("loop", "app"))
    fake_cluster.backend.exit(first.id, 2)
    second = fake_cluster.wait("the immediate restart", lambda: (
        c := fake_cluster.running("loop", "app")) and c.id != first.id and c)
    fake_cluster.backend.exit(second.id, 2)
    fake_cluster.wait("CrashLoopBackOff", lambda: (
        fake_cluster.status_of("loop", "app").get("state") or {}).get("waiting"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fake_cluster.client.patch("pods", "loop", "default",
                              {"metadata": {"annotations": {RESTART_ANNOTATION: stamp}}})
    # "At once": well within the 60 s back-off it would otherwise wait out.
    third = fake_cluster.wait("the container started at once", lambda: (
        c := fake_cluster.running("loop", "app")) and c.id != second.id and c, timeout=30)
    assert third.attempt == second.attempt + 1
    assert fake_cluster.wait("restartCount 2", lambda: (
        fake_cluster.status_of("loop", "app").get("restartCount") == 2))
    # The running container started after the request: not restarted again for it.
    assert not [c for c in fake_cluster.backend.called("kill") if c[1] == third.id]


def test_restart_policy_never_ends_the_pod(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("once", restart="Never"))
    c = fake_cluster.wait("the container", lambda: fake_cluster.running("once", "app"))
    fake_cluster.backend.exit(c.id, 0)
    fake_cluster.wait("phase Succeeded", lambda: (
        fake_cluster.pod("once")["status"].get("phase") == "Succeeded"))
    assert fake_cluster.running("once", "app") is None


def test_readiness_follows_the_probe(fake_cluster: Any) -> None:
    ready = {"now": False}

    def answer(info: ContainerInfo, command: list[str]) -> tuple[int, bytes]:
        assert command == ["cat", "/tmp/ready"]
        return (0, b"") if ready["now"] else (1, b"no such file")

    fake_cluster.backend.exec_handler = answer
    fake_cluster.client.create(pod("probed", readinessProbe={
        "exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}))
    fake_cluster.wait("the container", lambda: fake_cluster.running("probed", "app"))
    fake_cluster.wait("a failed probe seen", lambda: (
        fake_cluster.status_of("probed", "app").get("ready") is False
        and fake_cluster.pod("probed")["status"].get("phase") == "Running"))
    assert not fake_cluster.ready("probed")
    ready["now"] = True
    fake_cluster.wait("Ready after the probe passes", lambda: fake_cluster.ready("probed"))


def test_a_failed_liveness_probe_restarts_the_container(fake_cluster: Any) -> None:
    sick: set[str] = set()  # the containers whose process hangs
    fake_cluster.backend.exec_handler = lambda info, command: (
        (1, b"dead") if info.id in sick else (0, b""))
    fake_cluster.client.create(pod("sick", livenessProbe={
        "exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 1}))
    first = fake_cluster.wait("the container", lambda: fake_cluster.running("sick", "app"))
    sick.add(first.id)
    fake_cluster.wait("a stop signal for the failed probe", lambda: (
        "kill", first.id, "SIGTERM") in fake_cluster.backend.called("kill"))
    fake_cluster.wait("a new container", lambda: (
        c := fake_cluster.running("sick", "app")) and c.id != first.id)


def test_deletion_stops_within_the_grace_period_then_removes(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("bye", grace=7))
    c = fake_cluster.wait("the container", lambda: fake_cluster.running("bye", "app"))
    fake_cluster.client.delete("pods", "bye", "default")
    fake_cluster.wait("the pod object gone", lambda: fake_cluster.pod("bye") is None)
    assert ("kill", c.id, "SIGTERM") in fake_cluster.backend.called("kill")
    assert c.id not in fake_cluster.backend.containers


def test_a_pod_deleted_while_its_container_is_made_never_starts_it(fake_node: Any) -> None:
    """The deletion reaches the kubelet between the container's creation and its start
    (kompy down under load): the container is not started, only removed, so the pod does
    not wait out a grace period its program would have ignored."""
    cluster = fake_node.start()
    kubelet = fake_node.runtime.kubelet
    create = cluster.backend.create

    def create_then_delete(spec: Any) -> str:
        cid = create(spec)
        if spec.labels.get("kompy.role") == "app":
            doomed = cluster.client.delete("pods", "doomed", "default", grace_period_seconds=30)
            cluster.wait("the kubelet to hear of it", lambda: terminating(
                kubelet._known.get(doomed["metadata"]["uid"]) or {}))
        return str(cid)
    cluster.backend.create = create_then_delete
    cluster.client.create(pod("doomed", grace=30))
    cluster.wait("the pod object gone", lambda: cluster.pod("doomed") is None)
    assert [c for c in cluster.backend.called("create") if "doomed" in c[1]]
    assert not [c for c in cluster.backend.called("start") if "doomed" in c[1]]
    assert not [c for c in cluster.backend.containers.values() if "doomed" in c.spec.name]


@pytest.mark.parametrize("fake_cluster", [60.0], indirect=True)
def test_a_container_that_cannot_start_backs_off_as_a_crash_does(fake_cluster: Any) -> None:
    """Docker refuses to start it (its executable is missing): restarted at once the first
    time, then held by CrashLoopBackOff, never retried in a tight loop."""
    fake_cluster.backend.start_error = lambda spec: (
        'exec: "/missing": stat /missing: no such file or directory'
        if spec.entrypoint == ["/missing"] else "")
    fake_cluster.client.create(pod("broken", command=["/missing"]))
    waiting = fake_cluster.wait("CrashLoopBackOff", lambda: (
        fake_cluster.status_of("broken", "app").get("state") or {}).get("waiting"))
    assert waiting["reason"] == "CrashLoopBackOff"
    status = fake_cluster.status_of("broken", "app")
    assert status["lastState"]["terminated"]["reason"] == "ContainerCannotRun"
    assert "/missing" in status["lastState"]["terminated"]["message"]
    # Held for the 60 s back-off: the immediate retry and nothing more.
    starts = len([c for c in fake_cluster.backend.called("start") if "broken" in c[1]])
    assert starts == 2
    # Events are posted by the recorder's own thread, after the status that reports the
    # same failure: wait for the event rather than expect it already there.
    failed = fake_cluster.wait("the Failed event", lambda: [
        e for e in fake_cluster.client.list("events", "default")["items"]
        if e["reason"] == "Failed" and e["involvedObject"]["name"] == "broken"])
    assert "/missing" in failed[0]["message"]


def test_pods_that_come_and_go_leave_no_delayed_work_behind(fake_node: Any) -> None:
    """Each sync of a pod with a projected token added it to the kubelet's queue for the
    renewal, ~48 minutes ahead, and every entry stayed until then, the pod long gone: the
    daemon's memory grew for the first hour of the soak (issue #12)."""
    cluster = fake_node.start()
    kubelet = fake_node.runtime.kubelet
    for round_ in range(3):
        names = [f"p{round_}-{i}" for i in range(8)]
        for pod_name in names:
            cluster.client.create(pod(pod_name, grace=0, command=["httpd"]))
        for pod_name in names:
            cluster.wait(f"{pod_name} to be Ready", lambda n=pod_name: cluster.ready(n))
        for pod_name in names:
            cluster.client.delete("pods", pod_name, "default")
        cluster.wait("the pods to go", lambda: not cluster.client.list("pods")["items"])
    # 24 pods synced a few times each: dozens of entries before; now none waits, and the
    # queue keeps at most 16 forgotten entries before it rebuilds its heap.
    cluster.wait("no delayed work of gone pods", lambda: kubelet.queue.delayed <= 16)
