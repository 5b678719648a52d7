"""``kompy dev``'s restart in place on the in-memory backend: the container is killed as
upstream's killContainer kills it (a ``Killing`` event, its preStop hook, its stop signal,
SIGKILL when its grace period ends) on the kubelet's stopper, then the same container starts
again. A process deaf to SIGTERM holds no sync worker meanwhile: other pods start."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kompy.client.wellknown import RESTART_ANNOTATION
from kompy.cluster.kubelet.backend import LABEL_POD, ContainerInfo

IMAGE = "kompy/busybox:1"
WORKERS = 8  # the kubelet's sync workers: every one of them would hold a deaf restart


def pod(name: str, *, grace: int = 30, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "terminationGracePeriodSeconds": grace,
        "containers": [{"name": "app", "image": IMAGE, **container}]}}


def request_restart(cluster: Any, name: str) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cluster.client.patch("pods", name, "default", {"metadata": {"annotations": {
        RESTART_ANNOTATION: now}}})


def events(cluster: Any, name: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in cluster.client.list("events", "default")["items"]
            if e.get("reason") == reason and e["involvedObject"]["name"] == name]


def phase(cluster: Any, name: str) -> str:
    return str(((cluster.pod(name) or {}).get("status") or {}).get("phase") or "")


def test_a_deaf_restart_in_place_holds_no_sync_worker(fake_cluster: Any) -> None:
    fake_cluster.backend.stop_ignored = lambda spec: spec.labels.get(
        LABEL_POD, "").startswith("deaf")
    names = [f"deaf-{i}" for i in range(WORKERS)]
    for name in names:
        fake_cluster.client.create(pod(name))
    first: dict[str, ContainerInfo] = {
        name: fake_cluster.wait(f"{name} running", lambda n=name: fake_cluster.running(n, "app"))
        for name in names}
    for name in names:
        request_restart(fake_cluster, name)
    # Created after the requests: its sync comes after theirs on the kubelet's queue.
    fake_cluster.client.create(pod("plain"))
    fake_cluster.wait("the new pod Running", lambda: phase(fake_cluster, "plain") == "Running",
                      timeout=30)
    # Before any deaf container's grace period (10 s) ended: none was started again yet.
    again = [n for n in names if (c := fake_cluster.running(n, "app")) is None
             or c.started_at != first[n].started_at]
    assert again == [], "the new pod waited for the restarts' grace periods"
    during = fake_cluster.status_of("deaf-0", "app")
    assert "running" in during["state"]  # still running, as during upstream's kill

    for name in names:
        fake_cluster.wait(f"{name} started again in place", lambda n=name: (
            c := fake_cluster.running(n, "app")) and c.started_at != first[n].started_at,
            timeout=60)
    for name in names:
        again_c = fake_cluster.running(name, "app")
        assert again_c is not None and again_c.id == first[name].id  # the same container
        assert ("kill", first[name].id, "SIGKILL") in fake_cluster.backend.called("kill")
    killing = events(fake_cluster, "deaf-0", "Killing")
    assert [e["message"] for e in killing] == [
        "Container app restart requested by kompy dev, will be restarted"]
    fake_cluster.wait("a second Started event", lambda: sum(
        e.get("count") or 1 for e in events(fake_cluster, "deaf-0", "Started")) >= 2)
    status = fake_cluster.wait("the pod Running again, the restart counted", lambda: (
        st := fake_cluster.status_of("deaf-0", "app")) and "running" in st["state"] and
        st.get("restartCount") == 1 and st)
    # As upstream's kubelet shows a container killed and started again: the killed run.
    ended = status["lastState"]["terminated"]
    assert (ended["exitCode"], ended["reason"], ended["containerID"]) == (
        137, "Error", f"docker://{first['deaf-0'].id}")   # deaf to SIGTERM: SIGKILLed
    assert ended["startedAt"] == first["deaf-0"].started_at[:19] + "Z"
    assert ended["finishedAt"] >= ended["startedAt"]
    assert not fake_cluster.backend.called("stop")  # no engine call waits out the grace
    fake_cluster.backend.stop_ignored = lambda spec: False  # the teardown's stop is quick


def test_the_restart_runs_the_pre_stop_hook_and_keeps_the_pod_running(
        fake_cluster: Any) -> None:
    """restartPolicy Never: the container stopped for the restart is started again, never
    taken for a finished one (the pod stays Running, not Failed)."""
    calls: list[list[str]] = []

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        calls.append(command)
        return 0, b""

    fake_cluster.backend.exec_handler = exec_handler
    spec = pod("hooked", grace=2, lifecycle={"preStop": {"exec": {"command": ["drain"]}}})
    spec["spec"]["restartPolicy"] = "Never"
    fake_cluster.client.create(spec)
    first = fake_cluster.wait("running", lambda: fake_cluster.running("hooked", "app"))
    request_restart(fake_cluster, "hooked")
    fake_cluster.wait("started again", lambda: (
        c := fake_cluster.running("hooked", "app")) and c.started_at != first.started_at)
    assert calls.count(["drain"]) == 1
    fake_cluster.wait("Running", lambda: phase(fake_cluster, "hooked") == "Running" and (
        "running" in fake_cluster.status_of("hooked", "app").get("state", {})))
    assert phase(fake_cluster, "hooked") == "Running"


def test_restarts_in_place_count_with_crashes_and_across_a_daemon_restart(
        fake_node: Any) -> None:
    """Upstream counts every new run of a container: two restarts in place and a crash make
    restartCount 3, whatever the order, and a daemon restarted meanwhile counts the same
    (the count is the pod's, kept in its state folder). lastState is always the run
    before the current one."""
    cluster = fake_node.start()
    cluster.client.create(pod("counted", grace=2))
    first = cluster.wait("running", lambda: cluster.running("counted", "app"))

    def restarted_in_place(n: int) -> dict[str, Any]:
        request_restart(cluster, "counted")
        return cluster.wait(f"restart {n} counted", lambda: (
            st := cluster.status_of("counted", "app")) and "running" in st["state"]
            and st.get("restartCount") == n and st)

    status = restarted_in_place(1)
    assert status["lastState"]["terminated"]["exitCode"] == 143   # SIGTERM obeyed
    assert status["containerID"] == f"docker://{first.id}"
    fake_node.crash()
    cluster = fake_node.start()
    cluster.wait("Running after the daemon restart, the count kept", lambda: (
        st := cluster.status_of("counted", "app")) and "running" in st["state"]
        and st.get("restartCount") == 1)
    restarted_in_place(2)

    crashed = cluster.running("counted", "app")
    assert crashed is not None and crashed.id == first.id
    fake_node.backend.exit(crashed.id, 3)
    status = cluster.wait("the crash counted on top", lambda: (
        st := cluster.status_of("counted", "app")) and "running" in st["state"]
        and st.get("restartCount") == 3 and st)
    ended = status["lastState"]["terminated"]
    assert (ended["exitCode"], ended["reason"], ended["containerID"]) == (
        3, "Error", f"docker://{first.id}")
    assert status["containerID"] != f"docker://{first.id}"   # the kubelet's new container
