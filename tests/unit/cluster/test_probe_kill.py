"""A container whose liveness or startup probe failed is killed as upstream's killContainer
kills it: a Normal ``Killing`` event "Container X failed liveness probe, will be restarted",
its preStop hook first, then its stop signal, and SIGKILL when its grace period ends (the
probe's own terminationGracePeriodSeconds over the pod's), on the stopper: no engine call
waits out the grace period."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kompy.cluster.kubelet.probekill import kill_grace, kill_message

FAILING = {"exec": {"command": ["check"]}, "periodSeconds": 1, "failureThreshold": 1}


def pod(name: str, *, grace: int = 30, policy: str = "Always",
        **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": policy, "terminationGracePeriodSeconds": grace,
        "containers": [{"name": "app", "image": "kompy/busybox:1", **container}]}}


def killing(cluster: Any, name: str) -> list[dict[str, Any]]:
    return [e for e in cluster.client.list("events", "default")["items"]
            if e.get("reason") == "Killing" and e["involvedObject"]["name"] == name]


def sick_engine(cluster: Any, log: list[tuple[str, Any]]) -> set[str]:
    """The probe's command fails in the containers of the returned set; every exec and
    signal is logged in order."""
    sick: set[str] = set()
    kill = cluster.backend.kill

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        log.append(("exec", command))
        return (1, b"") if command == ["check"] and info.id in sick else (0, b"")

    def logged_kill(container_id: str, signal: str = "SIGKILL") -> None:
        log.append(("kill", signal))
        kill(container_id, signal)

    cluster.backend.exec_handler = exec_handler
    cluster.backend.kill = logged_kill
    return sick


def test_the_probe_kill_runs_the_pre_stop_hook_then_signals(fake_cluster: Any) -> None:
    log: list[tuple[str, Any]] = []
    sick = sick_engine(fake_cluster, log)
    fake_cluster.client.create(pod("sick", livenessProbe=FAILING, lifecycle={
        "preStop": {"exec": {"command": ["drain"]}}}))
    first = fake_cluster.wait("the container", lambda: fake_cluster.running("sick", "app"))
    sick.add(first.id)
    fake_cluster.wait("a new container", lambda: (
        c := fake_cluster.running("sick", "app")) and c.id != first.id)
    hook = log.index(("exec", ["drain"]))
    assert ("kill", "SIGTERM") in log[hook:]  # the stop signal came after the hook
    event = fake_cluster.wait("the Killing event", lambda: killing(fake_cluster, "sick"))[0]
    assert event["type"] == "Normal"
    assert event["message"] == "Container app failed liveness probe, will be restarted"
    assert not fake_cluster.backend.called("stop")  # no engine call waits out the grace


def test_the_probe_grace_period_overrides_the_pods(fake_cluster: Any) -> None:
    """The process ignores SIGTERM: it is SIGKILLed when the probe's 1 s grace (2 s at
    least after the signal) ends, not after the pod's 600 s."""
    fake_cluster.backend.stop_ignored = lambda spec: True
    sick: set[str] = set()
    fake_cluster.backend.exec_handler = lambda info, command: (
        (1, b"") if info.id in sick else (0, b""))
    fake_cluster.client.create(pod("deaf", grace=600, livenessProbe={
        **FAILING, "terminationGracePeriodSeconds": 1}))
    first = fake_cluster.wait("the container", lambda: fake_cluster.running("deaf", "app"))
    sick.add(first.id)
    killed = fake_cluster.wait("the Killing event", lambda: killing(fake_cluster, "deaf"))
    began = time.monotonic()
    fake_cluster.wait("a new container", lambda: (
        c := fake_cluster.running("deaf", "app")) and c.id != first.id, timeout=30)
    assert time.monotonic() - began < 20
    assert ("kill", first.id, "SIGKILL") in fake_cluster.backend.called("kill")
    assert killed[0]["message"].startswith("Container app failed liveness probe")
    fake_cluster.backend.stop_ignored = lambda spec: False  # the teardown's stop is quick


def test_a_startup_probe_failure_with_restart_never_says_so(fake_cluster: Any) -> None:
    fake_cluster.backend.exec_handler = lambda info, command: (1, b"")
    fake_cluster.client.create(pod("never", policy="Never", grace=1, startupProbe=FAILING))
    event = fake_cluster.wait("the Killing event", lambda: killing(fake_cluster, "never"))[0]
    assert event["message"] == "Container app failed startup probe"
    fake_cluster.wait("the pod Failed", lambda: (fake_cluster.pod("never") or {}).get(
        "status", {}).get("phase") == "Failed")


def hold_drain(fake_cluster: Any, release: threading.Event) -> None:
    """The preStop hook ``drain`` runs until ``release`` is set (30 s at most): a kill is
    under way meanwhile."""
    handler = fake_cluster.backend.exec_handler

    def slow_drain(info: Any, command: list[str]) -> tuple[int, bytes]:
        found: tuple[int, bytes] = handler(info, command)
        if command == ["drain"]:
            release.wait(30)
        return found

    fake_cluster.backend.exec_handler = slow_drain


@pytest.mark.parametrize("fake_cluster", [0.2], indirect=True)
def test_deleting_a_pod_during_a_probe_kill_runs_its_hook_once(fake_cluster: Any) -> None:
    log: list[tuple[str, Any]] = []
    release = threading.Event()
    sick = sick_engine(fake_cluster, log)
    hold_drain(fake_cluster, release)
    fake_cluster.client.create(pod("both", livenessProbe=FAILING, lifecycle={
        "preStop": {"exec": {"command": ["drain"]}}}))
    first = fake_cluster.wait("the container", lambda: fake_cluster.running("both", "app"))
    sick.add(first.id)
    fake_cluster.wait("the hook running", lambda: ("exec", ["drain"]) in log)
    fake_cluster.client.delete("pods", "both", "default")
    fake_cluster.wait("the pod gone", lambda: fake_cluster.pod("both") is None)
    release.set()
    assert log.count(("exec", ["drain"])) == 1


def test_kill_grace_follows_set_termination_grace_period() -> None:
    spec = {"name": "app", "livenessProbe": {"terminationGracePeriodSeconds": 5}}
    live = pod("p", grace=30)
    assert kill_grace(live, spec, "liveness") == 5
    assert kill_grace(live, spec, "startup") == 30  # only the failed probe's own counts
    deleting = {**live, "metadata": {"name": "p", "deletionGracePeriodSeconds": 0}}
    assert kill_grace(deleting, spec, "liveness") == 0
    assert kill_message(live, "app", "startup") == (
        "Container app failed startup probe, will be restarted")


def test_a_cluster_stop_during_a_probe_kill_runs_its_hook_once(fake_cluster: Any) -> None:
    """`kompy cluster stop` while a probe's kill runs the container's preStop hook: the
    stop joins that kill (upstream runs a preStop hook once per kill of a container)."""
    log: list[tuple[str, Any]] = []
    release = threading.Event()
    sick = sick_engine(fake_cluster, log)
    hold_drain(fake_cluster, release)
    fake_cluster.client.create(pod("stopped", grace=3, livenessProbe=FAILING, lifecycle={
        "preStop": {"exec": {"command": ["drain"]}}}))
    first = fake_cluster.wait("the container", lambda: fake_cluster.running("stopped", "app"))
    sick.add(first.id)
    fake_cluster.wait("the hook running", lambda: ("exec", ["drain"]) in log)
    try:
        fake_cluster.runtime.stop.set()   # as `kompy cluster stop`: the daemon's shutdown
        fake_cluster.runtime.join(5)
        assert fake_cluster.running("stopped", "app") is None
        assert log.count(("exec", ["drain"])) == 1
    finally:
        release.set()

