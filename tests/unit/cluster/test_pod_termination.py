"""A pod's deletion on the in-memory backend: many pods stop at once, each within its own
grace period (the deletion's, else the pod's), its preStop hook's time counted in it, as
upstream's pod workers and killContainer do."""

from __future__ import annotations

import threading
import time
from typing import Any

from kompy.cluster.kubelet.backend import LABEL_POD, LABEL_ROLE

IMAGE = "kompy/busybox:1"


def pod(name: str, grace: int, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {
        "group": "deaf"}}, "spec": {"terminationGracePeriodSeconds": grace, "containers": [
            {"name": "app", "image": IMAGE, **container}]}}


class KillClock:
    """When each container got each signal, in seconds since the clock started."""

    def __init__(self, backend: Any) -> None:
        self.began = time.monotonic()
        self.at: dict[tuple[str, str], float] = {}
        self._kill = backend.kill
        self._lock = threading.Lock()
        backend.kill = self.kill

    def kill(self, cid: str, signal: str = "SIGKILL") -> None:
        with self._lock:
            self.at.setdefault((cid, signal), time.monotonic() - self.began)
        self._kill(cid, signal)


def deaf(spec: Any) -> bool:
    return bool(spec.labels.get(LABEL_ROLE) == "app")


def test_many_deaf_pods_deleted_at_once_are_gone_in_one_grace_period(fake_node: Any) -> None:
    """60 pods whose process ignores SIGTERM, 2 s grace: one blocking stop call each on the
    backend's threads took 60 x 2 s / 4 threads; upstream stops each pod in its own worker."""
    count, grace = 60, 2
    fake_node.backend.stop_ignored = deaf
    cluster = fake_node.start()
    for i in range(count):
        cluster.client.create(pod(f"deaf-{i}", grace))
    cluster.wait(f"{count} pods running", lambda: len(
        cluster.backend.running(**{LABEL_ROLE: "app"})) == count, timeout=120)
    clock = KillClock(cluster.backend)

    began = time.monotonic()
    for i in range(count):
        cluster.client.delete("pods", f"deaf-{i}", "default")
    cluster.wait("every pod gone", lambda: not cluster.client.list("pods", "default")["items"],
                 timeout=60)
    took = time.monotonic() - began

    assert took < grace + 5, f"{count} pods took {took:.1f} s to stop"
    kills = [at for (_cid, signal), at in clock.at.items() if signal == "SIGKILL"]
    assert len(kills) == count
    assert min(kills) >= grace - 0.1, "a container was killed before its grace period ended"


def test_each_pod_has_its_own_grace_period_and_the_deletion_s_wins(fake_node: Any) -> None:
    fake_node.backend.stop_ignored = deaf
    cluster = fake_node.start()
    cluster.client.create(pod("short", 2))
    cluster.client.create(pod("long", 30))
    short = cluster.wait("short runs", lambda: cluster.running("short", "app"))
    long = cluster.wait("long runs", lambda: cluster.running("long", "app"))
    clock = KillClock(cluster.backend)

    cluster.client.delete("pods", "short", "default")
    cluster.client.delete("pods", "long", "default", grace_period_seconds=4)
    cluster.wait("both pods gone", lambda: not cluster.client.list("pods", "default")["items"],
                 timeout=30)

    assert 2 - 0.1 <= clock.at[(short.id, "SIGKILL")] < 2 + 1.5
    assert 4 - 0.1 <= clock.at[(long.id, "SIGKILL")] < 4 + 1.5
    assert clock.at[(short.id, "SIGTERM")] < 1 and clock.at[(long.id, "SIGTERM")] < 1


def test_a_second_deletion_with_a_shorter_grace_period_shortens_the_stop(
        fake_node: Any) -> None:
    fake_node.backend.stop_ignored = deaf
    cluster = fake_node.start()
    cluster.client.create(pod("slow", 30))
    c = cluster.wait("slow runs", lambda: cluster.running("slow", "app"))
    cluster.client.delete("pods", "slow", "default")
    cluster.wait("the stop signal", lambda: ("kill", c.id, "SIGTERM") in
                 cluster.backend.called("kill"))
    began = time.monotonic()
    cluster.client.delete("pods", "slow", "default", grace_period_seconds=2)
    cluster.wait("the pod gone", lambda: cluster.pod("slow") is None, timeout=20)
    assert time.monotonic() - began < 2 + 3


def test_the_pre_stop_hook_runs_first_and_its_time_counts_in_the_grace_period(
        fake_node: Any) -> None:
    """Upstream's killContainer: the hook, then the stop signal; the grace period covers
    both, and the container keeps at least 2 s after its signal."""
    ran: list[tuple[list[str], float]] = []
    fake_node.backend.stop_ignored = deaf
    cluster = fake_node.start()
    clock = KillClock(cluster.backend)

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        if command[:1] == ["drain"]:
            ran.append((command, time.monotonic() - clock.began))
            time.sleep(float(command[1]))
        return 0, b""

    cluster.backend.exec_handler = exec_handler
    hook = {"lifecycle": {"preStop": {"exec": {"command": ["drain", "1"]}}}}
    cluster.client.create(pod("hooked", 4, **hook))
    overrun = {"lifecycle": {"preStop": {"exec": {"command": ["drain", "10"]}}}}
    cluster.client.create(pod("overrun", 2, **overrun))
    hooked = cluster.wait("hooked runs", lambda: cluster.running("hooked", "app"))
    late = cluster.wait("overrun runs", lambda: cluster.running("overrun", "app"))
    clock.began = time.monotonic()

    cluster.client.delete("pods", "hooked", "default")
    cluster.client.delete("pods", "overrun", "default")
    cluster.wait("both pods gone", lambda: not cluster.client.list("pods", "default")["items"],
                 timeout=30)

    assert len(ran) == 2
    # hooked: the 1 s hook, then SIGTERM, then SIGKILL at the end of its 4 s (not 1 + 4 s).
    assert 1.0 <= clock.at[(hooked.id, "SIGTERM")] < 2.5
    assert 4.0 - 0.1 <= clock.at[(hooked.id, "SIGKILL")] < 4.9
    # overrun: its hook outlasts the 2 s grace: SIGTERM at 2 s, SIGKILL 2 s after it.
    assert 2.0 - 0.1 <= clock.at[(late.id, "SIGTERM")] < 2.9
    assert 4.0 - 0.1 <= clock.at[(late.id, "SIGKILL")] < 4.9


def test_a_failed_pre_stop_hook_is_an_event_and_the_pod_still_stops(fake_cluster: Any) -> None:
    fake_cluster.backend.exec_handler = lambda info, command: (
        (1, b"secret output") if command == ["false"] else (0, b""))
    hook = {"lifecycle": {"preStop": {"exec": {"command": ["false"]}}}}
    fake_cluster.client.create(pod("failing", 30, **hook))
    fake_cluster.wait("it runs", lambda: fake_cluster.running("failing", "app"))
    fake_cluster.client.delete("pods", "failing", "default")
    fake_cluster.wait("the pod gone", lambda: fake_cluster.pod("failing") is None, timeout=20)
    events = fake_cluster.wait("the FailedPreStopHook event", lambda: [
        e for e in fake_cluster.client.list("events", "default")["items"]
        if e.get("reason") == "FailedPreStopHook"])
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == "PreStopHook failed"  # the hook's output may hold secrets
    assert not fake_cluster.backend.list_containers({LABEL_POD: "failing"})
