"""Stopping many containers at once (kubelet/shutdown.py) and a daemon's stop with many pods:
bounded by the longest grace period, not by the sum of them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kompy.cluster.kubelet.backend import LABEL_ROLE, ContainerSpec, ImageInfo
from kompy.cluster.kubelet.fake import FakeBackend
from kompy.cluster.kubelet.shutdown import (
    KILL_WAIT_SECONDS,
    POLL_SECONDS,
    Stop,
    Stopper,
    stop_all,
)

IMAGE = "kompy/busybox:1"


class VirtualTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def started(backend: FakeBackend, name: str, image: str = IMAGE, **labels: str) -> str:
    cid = backend.create(ContainerSpec(name=name, image=image,
                                       labels=backend.labels("default", f"Pod/{name}",
                                                             **labels)))
    backend.start(cid)
    return cid


def exit_code(backend: FakeBackend, cid: str) -> int:
    info = backend.inspect(cid)
    assert info is not None and not info.running, f"{cid} still runs"
    return info.exit_code


def test_every_container_gets_its_signal_at_once_and_sigkill_after_its_grace(
        tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    backend.stop_ignored = lambda spec: spec.name.startswith("deaf")
    obeying = [started(backend, f"ok{i}") for i in range(150)]
    deaf = [started(backend, f"deaf{i}") for i in range(150)]
    time_ = VirtualTime()
    containers = {c.id: c for c in backend.list_containers({})}

    left = stop_all(backend, [Stop(containers[cid], 3.0) for cid in obeying + deaf],
                    clock=time_.clock, sleep=time_.sleep)

    assert left == []
    assert {exit_code(backend, cid) for cid in obeying} == {143}  # SIGTERM obeyed
    assert {exit_code(backend, cid) for cid in deaf} == {137}     # SIGKILL at the end
    # One grace period for all 300, not 300 of them (the old stop took 300 x 3 s / threads).
    assert 3.0 <= time_.now <= 3.0 + 2 * POLL_SECONDS
    kills = backend.called("kill")
    assert sum(1 for call in kills if call[2] == "SIGTERM") == 300
    assert {call[1] for call in kills if call[2] == "SIGKILL"} == set(deaf)
    assert not backend.called("stop")  # no blocking stop call holding a thread per container


def test_each_container_has_its_own_grace_period(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    backend.stop_ignored = lambda spec: True
    short, long = started(backend, "short"), started(backend, "long")
    time_ = VirtualTime()
    containers = {c.id: c for c in backend.list_containers({})}
    killed_at: dict[str, float] = {}
    kill = backend.kill

    def timed_kill(cid: str, signal: str = "SIGKILL") -> None:
        if signal == "SIGKILL":
            killed_at[cid] = time_.now
        kill(cid, signal)

    backend.kill = timed_kill  # type: ignore[method-assign]
    stop_all(backend, [Stop(containers[short], 1.0), Stop(containers[long], 5.0)],
             clock=time_.clock, sleep=time_.sleep)

    assert 1.0 <= killed_at[short] < 1.0 + 2 * POLL_SECONDS
    assert 5.0 <= killed_at[long] < 5.0 + 2 * POLL_SECONDS


def test_the_image_stop_signal_is_sent(tmp_path: Path) -> None:
    """As Docker's stop and the kubelet do: an image's STOPSIGNAL replaces SIGTERM."""
    backend = FakeBackend(tmp_path, images=(IMAGE, "nginx:1"))
    backend.images["nginx:1"] = ImageInfo(id="sha256:n", repo_digests=(), stop_signal="SIGQUIT")
    cid = started(backend, "web", image="nginx:1")
    stop_all(backend, [Stop(c, 2.0) for c in backend.list_containers({})],
             clock=VirtualTime().clock, sleep=VirtualTime().sleep)
    assert backend.called("kill") == [("kill", cid, "SIGQUIT")]
    assert exit_code(backend, cid) == 131


def test_a_container_that_will_not_die_is_given_up_on_in_bounded_time(tmp_path: Path) -> None:
    """A stuck engine (SIGKILL answered but the container still listed as running) does not
    hang the stop: it ends a few seconds after the grace period and names the container."""
    backend = FakeBackend(tmp_path)
    cid = started(backend, "stuck")
    container = backend.inspect(cid)
    assert container is not None
    backend.kill = lambda *_args, **_kw: None  # type: ignore[method-assign]
    time_ = VirtualTime()
    left = stop_all(backend, [Stop(container, 2.0)], clock=time_.clock, sleep=time_.sleep)
    assert left == ["stuck"]
    assert time_.now <= 2.0 + KILL_WAIT_SECONDS + POLL_SECONDS


def deployment(replicas: int, grace: int) -> dict[str, Any]:
    labels = {"app": "many"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "many"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": grace,
                         "containers": [{"name": "web", "image": IMAGE}]}}}}


def test_a_daemon_stop_with_many_pods_takes_one_grace_period(fake_node: Any) -> None:
    """The daemon's shutdown (Runtime.join) with 100 pods (a node holds 110) whose process
    ignores SIGTERM and a 2 s grace period: their containers stop within one grace period
    plus the API calls (one stop call each on the backend's threads took 100 x 2 s / 4)."""
    replicas, grace = 100, 2
    fake_node.backend.stop_ignored = lambda spec: spec.labels.get(LABEL_ROLE) == "app"
    cluster = fake_node.start()
    cluster.client.apply(deployment(replicas, grace))
    cluster.wait(f"{replicas} pods running", lambda: len(
        cluster.backend.running(**{LABEL_ROLE: "app"})) == replicas, timeout=120)

    fake_node.stop_event.set()
    began = time.monotonic()
    fake_node.runtime.join(5)
    took = time.monotonic() - began
    fake_node.runtime = None

    assert cluster.backend.running() == [], "containers left running after the stop"
    assert took < grace + 8, f"the stop of {replicas} pods took {took:.1f} s"
    apps = [c for c in cluster.backend.list_containers({LABEL_ROLE: "app"})]
    assert {c.exit_code for c in apps} == {137}


def slow_daemon(tmp_path: Path, monkeypatch: Any, seconds: float,
                counts: list[int]) -> subprocess.Popen[bytes]:
    """A stand-in daemon that ignores SIGTERM and exits after ``seconds``, its pid where the
    cluster's is kept; ``counts``: what the engine says of the cluster's running containers,
    one answer each time the stop looks."""
    from kompy.cluster.daemon import process as daemon

    monkeypatch.setenv("KOMPY_HOME", str(tmp_path))
    monkeypatch.setattr(daemon, "_running_containers",
                        lambda state: lambda: counts.pop(0) if len(counts) > 1 else counts[0])
    child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                              "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                              "print('ready', flush=True); "
                              f"time.sleep({seconds})",
                              "kompy.cluster.daemon"],  # how a stop knows a daemon's pid
                             stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    state = daemon.cluster_state("slow")
    state.ensure_dir()
    state.pid_file.write_text(f"{child.pid}\n")
    return child


def test_a_stop_waits_as_long_as_containers_keep_stopping(tmp_path: Path,
                                                          monkeypatch: Any) -> None:
    """Tearing hundreds of containers down outlasts any fixed limit: the limit counts
    from the last container that stopped."""
    from kompy.cluster.daemon import process as daemon

    child = slow_daemon(tmp_path, monkeypatch, 4.0, list(range(300, 0, -1)))
    try:
        assert daemon.stop("slow", timeout=1.5)
    finally:
        child.kill()


def test_a_stop_without_progress_gives_up_after_its_limit(tmp_path: Path,
                                                          monkeypatch: Any) -> None:
    from kompy.cluster.daemon import process as daemon
    from kompy.errors import ClusterError

    child = slow_daemon(tmp_path, monkeypatch, 60.0, [30])
    began = time.monotonic()
    try:
        with pytest.raises(ClusterError, match="no progress in 2 s"):
            daemon.stop("slow", timeout=2.0)
    finally:
        child.kill()
        child.wait()
    assert time.monotonic() - began < 10


def test_a_daemon_stop_runs_the_pre_stop_hooks_within_the_grace_period(fake_node: Any) -> None:
    """As a node's graceful shutdown: each pod container's preStop hook runs before its stop
    signal; a hook that never ends is cut when the pod's grace period (2 s) ends, so the
    stop stays bounded."""
    hooked: list[str] = []
    never = threading.Event()
    order: list[tuple[str, str]] = []

    def exec_handler(info: Any, command: list[str]) -> tuple[int, bytes]:
        if command == ["drain"]:
            hooked.append(info.id)
            order.append(("hook", info.id))
            never.wait(60)  # a hook that hangs
        return 0, b""

    fake_node.backend.exec_handler = exec_handler
    fake_node.backend.stop_ignored = lambda spec: spec.labels.get(LABEL_ROLE) == "app"
    cluster = fake_node.start()
    kill = cluster.backend.kill

    def logged_kill(container_id: str, signal: str = "SIGKILL") -> None:
        order.append((signal, container_id))
        kill(container_id, signal)

    cluster.backend.kill = logged_kill
    spec = deployment(3, 2)
    spec["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = {
        "preStop": {"exec": {"command": ["drain"]}}}
    cluster.client.apply(spec)
    apps = cluster.wait("3 pods running", lambda: (
        found := cluster.backend.running(**{LABEL_ROLE: "app"})) and len(found) == 3 and found)

    fake_node.stop_event.set()
    began = time.monotonic()
    fake_node.runtime.join(5)
    took = time.monotonic() - began
    fake_node.runtime = None
    never.set()

    assert sorted(hooked) == sorted(c.id for c in apps)
    for c in apps:
        assert order.index(("hook", c.id)) < order.index(("SIGTERM", c.id))
    assert cluster.backend.running() == []
    assert took < 2 + 8, f"the stop took {took:.1f} s"


def test_a_second_kill_of_a_container_joins_the_first_with_the_sooner_end(
        tmp_path: Path) -> None:
    """One kill per container instance, as upstream's: a second one (a deletion, a node's
    shutdown, during a probe's kill) runs no second preStop hook and sends no second stop
    signal; SIGKILL comes when the shorter of the remaining grace periods ends, and both are
    called back once the container is gone."""
    backend = FakeBackend(tmp_path)
    backend.stop_ignored = lambda spec: True
    info = backend.inspect(started(backend, "deaf"))
    assert info is not None
    time_ = VirtualTime()
    stopper = Stopper(backend, time_.clock)
    hooks: list[str] = []
    ended: list[str] = []
    first = stopper.begin([Stop(info, 30.0, lambda: hooks.append("first"), 2.0)],
                          lambda left: ended.append("first"))
    deadline = time.monotonic() + 10
    while not backend.called("kill") and time.monotonic() < deadline:
        time.sleep(0.01)  # the hook runs on a thread of its own, then the signal
    time_.sleep(1.0)
    second = stopper.begin([Stop(info, 5.0, lambda: hooks.append("second"), 2.0)],
                           lambda left: ended.append("second"))
    assert stopper.stopping(info.id)
    assert hooks == ["first"]
    assert backend.called("kill") == [("kill", info.id, "SIGTERM")]
    time_.sleep(4.9)
    stopper.poll()
    assert ("kill", info.id, "SIGKILL") not in backend.called("kill")
    time_.sleep(0.1)  # 5 s after the second kill began: not the first's 30 s
    stopper.poll()
    assert backend.called("kill")[-1] == ("kill", info.id, "SIGKILL")
    stopper.poll()
    assert first.done.is_set() and second.done.is_set()
    assert sorted(ended) == ["first", "second"] and hooks == ["first"]
    assert not stopper.stopping(info.id)
