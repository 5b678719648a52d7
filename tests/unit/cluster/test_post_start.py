"""A container's postStart hook on the in-memory backend, as upstream's startContainer runs
it: right after the start, before the pod's next container starts and before the container
is probed; a failed one is a FailedPostStartHook event and the container is killed (no
preStop hook) and restarted per the restart policy."""

from __future__ import annotations

import threading
from typing import Any

IMAGE = "kompy/busybox:1"


def pod(name: str, *containers: dict[str, Any], policy: str = "Always") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": policy, "terminationGracePeriodSeconds": 1,
        "containers": [{"image": IMAGE, **c} for c in containers]}}


def hook(event: str, *command: str) -> dict[str, Any]:
    return {"lifecycle": {event: {"exec": {"command": list(command)}}}}


def events(cluster: Any, reason: str) -> list[dict[str, Any]]:
    return [e for e in cluster.client.list("events", "default")["items"]
            if e.get("reason") == reason]


def test_the_next_container_starts_only_after_the_hook_ends(fake_cluster: Any) -> None:
    release = threading.Event()
    hooked = threading.Event()

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        if command == ["warm-up"]:
            hooked.set()
            release.wait(30)
        return 0, b""

    fake_cluster.backend.exec_handler = exec_handler
    fake_cluster.client.create(pod("ordered", {"name": "first", **hook("postStart", "warm-up")},
                                   {"name": "second"}))
    fake_cluster.wait("the hook running", hooked.is_set)
    assert not fake_cluster.running("ordered", "second")
    statuses = (fake_cluster.pod("ordered") or {}).get("status", {}).get(
        "containerStatuses") or []
    assert not any(s.get("ready") or "running" in (s.get("state") or {}) for s in statuses)
    release.set()
    fake_cluster.wait("the second container", lambda: fake_cluster.running("ordered", "second"))
    # The statuses may not be written yet when the wait first looks: not an error.
    fake_cluster.wait("the pod Ready", lambda: (statuses := (
        fake_cluster.pod("ordered") or {}).get("status", {}).get("containerStatuses")) and all(
        s.get("ready") for s in statuses))


def test_a_failed_hook_is_an_event_and_the_container_is_killed_and_restarted(
        fake_cluster: Any) -> None:
    calls: list[list[str]] = []

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        calls.append(command)
        return (1, b"secret output") if command == ["false"] else (0, b"")

    fake_cluster.backend.exec_handler = exec_handler
    spec = {"name": "app", "lifecycle": {"postStart": {"exec": {"command": ["false"]}},
                                         "preStop": {"exec": {"command": ["drain"]}}}}
    fake_cluster.client.create(pod("failing", spec))
    found = fake_cluster.wait("the FailedPostStartHook event",
                              lambda: events(fake_cluster, "FailedPostStartHook"))
    assert found[0]["type"] == "Warning"
    assert found[0]["message"] == "PostStartHook failed"  # the hook's output may hold secrets
    fake_cluster.wait("a restart", lambda: any(
        s.get("restartCount", 0) >= 1
        for s in (fake_cluster.pod("failing") or {}).get("status", {}).get(
            "containerStatuses") or []))
    assert ["drain"] not in calls  # killed as upstream kills it: no preStop hook


def test_with_restart_policy_never_a_failed_hook_fails_the_pod(fake_cluster: Any) -> None:
    fake_cluster.backend.exec_handler = lambda info, command: (1, b"")
    fake_cluster.client.create(pod("once", {"name": "app", **hook("postStart", "false")},
                                   policy="Never"))
    fake_cluster.wait("the pod Failed", lambda: (fake_cluster.pod("once") or {}).get(
        "status", {}).get("phase") == "Failed")
    state = fake_cluster.pod("once")["status"]["containerStatuses"][0]
    assert state["restartCount"] == 0 and state["state"]["terminated"]["exitCode"] == 137


def blocking_hooks(cluster: Any) -> tuple[threading.Event, list[str]]:
    """Every ``warm-up`` hook runs until the returned event is set; the ids of the
    containers whose hook began are listed."""
    release = threading.Event()
    began: list[str] = []

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        if command == ["warm-up"]:
            began.append(info.id)
            release.wait(60)
        return 0, b""

    cluster.backend.exec_handler = exec_handler
    return release, began


def test_a_pod_deleted_while_its_hook_runs_does_not_wait_for_it(fake_cluster: Any) -> None:
    release, began = blocking_hooks(fake_cluster)
    try:
        fake_cluster.client.create(pod("slow", {"name": "app", **hook("postStart", "warm-up")}))
        fake_cluster.wait("the hook running", lambda: began)
        fake_cluster.client.delete("pods", "slow", "default")
        fake_cluster.wait("the pod gone while its hook still runs",
                          lambda: fake_cluster.pod("slow") is None, timeout=20)
    finally:
        release.set()
    assert not events(fake_cluster, "FailedPostStartHook")  # the deletion is no hook failure


def test_other_pods_do_not_queue_behind_long_hooks(fake_cluster: Any) -> None:
    """Ten pods whose postStart hook runs on (more than the kubelet's eight sync workers):
    an eleventh pod, without a hook, still starts and gets Ready."""
    release, began = blocking_hooks(fake_cluster)
    try:
        for i in range(10):
            fake_cluster.client.create(pod(f"slow-{i}", {"name": "app",
                                                         **hook("postStart", "warm-up")}))
        fake_cluster.wait("ten hooks running", lambda: len(began) == 10)
        fake_cluster.client.create(pod("quick", {"name": "app"}))
        fake_cluster.wait("the eleventh pod Ready", lambda: fake_cluster.ready("quick"),
                          timeout=20)
        assert not any(fake_cluster.ready(f"slow-{i}") for i in range(10))
    finally:
        release.set()
    fake_cluster.wait("the hooked pods Ready once their hooks ended",
                      lambda: all(fake_cluster.ready(f"slow-{i}") for i in range(10)))
