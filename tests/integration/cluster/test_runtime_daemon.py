"""The runtime across daemon restarts: adoption after a crash, pods back after a stop."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from clusterkit import BUSYBOX, container, docker_ok, pod, running, wait_for

pytestmark = pytest.mark.integration


def _ids(cluster: str, running_only: bool = False) -> list[str]:
    """The pods' containers (the node's own container, standing for the machine, aside)."""
    cmd = ["docker", "ps", "-q", "--no-trunc", "--filter", f"label=kompy.cluster={cluster}",
           "--filter", "label=kompy.pod-uid"]
    if not running_only:
        cmd.insert(2, "-a")
    return sorted(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split())


def test_crashed_daemon_adopts_containers_and_stop_start_restores_pods(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon

    monkeypatch.setenv("KOMPY_HOME", str(tmp_path))
    name = f"r{uuid.uuid4().hex[:8]}"
    try:
        client = daemon.ensure_cluster(name)
        client.create(pod("p", "default", container("c", "exec sleep 3600")))
        running(client, "p", "default")
        before = _ids(name)
        assert len(before) == 1  # one container: it holds the pod's network itself

        pid = int((tmp_path / name / "daemon.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        client = daemon.ensure_cluster(name)
        running(client, "p", "default")
        assert _ids(name) == before  # adopted, not duplicated
        assert client.get("pods", "p", "default")["status"]["containerStatuses"][0][
            "restartCount"] == 0

        daemon.stop(name)
        assert _ids(name, running_only=True) == []  # a stopped cluster runs nothing
        client = daemon.ensure_cluster(name)
        running(client, "p", "default")
        wait_for("the pod's container running again",
                 lambda: len(_ids(name, running_only=True)) == 1, 30)
    finally:
        daemon.reset(name)
    assert _ids(name) == []


def test_a_stop_with_many_pods_ignoring_sigterm_takes_one_grace_period(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kompy cluster stop` stops the pods as a node's graceful shutdown does: every
    container gets its stop signal at once and SIGKILL when its grace period ends. 24 pods
    whose process (``httpd`` as PID 1) ignores SIGTERM, with an 8 s grace period, are killed
    together 8 s after the stop began; one Docker stop call per container on eight threads
    killed them in three waves 8 s apart."""
    if not docker_ok():
        pytest.skip("no Docker engine")
    import time

    from kompy.cluster.daemon import process as daemon

    monkeypatch.setenv("KOMPY_HOME", str(tmp_path))
    monkeypatch.setenv("KOMPY_INGRESS_PORTS", "off")
    name = f"s{uuid.uuid4().hex[:8]}"
    replicas, grace = 24, 8
    labels = {"app": "deaf"}
    try:
        client = daemon.ensure_cluster(name)
        client.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "deaf", "namespace": "default"},
                      "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                               "template": {"metadata": {"labels": labels}, "spec": {
                                   "terminationGracePeriodSeconds": grace,
                                   "containers": [{"name": "web", "image": BUSYBOX,
                                                   "command": ["httpd", "-f"]}]}}}})
        wait_for(f"{replicas} pods running",
                 lambda: len(_ids(name, running_only=True)) == replicas, 180)

        began = time.monotonic()
        daemon.stop(name)
        took = time.monotonic() - began

        assert _ids(name, running_only=True) == []
        ends = [line.split() for line in subprocess.run(
            ["docker", "inspect", "--format", "{{.State.ExitCode}} {{.State.FinishedAt}}",
             *_ids(name)], check=True, capture_output=True, text=True).stdout.splitlines()]
        assert {code for code, _ in ends} == {"137"}  # httpd ignores SIGTERM: SIGKILL ended it
        finished = sorted(_docker_time(at) for _, at in ends)
        # Killed together (the engine's teardown of each spreads them a little), after the
        # grace period, not wave after wave.
        assert finished[-1] - finished[0] < grace, f"killed over {finished[-1] - finished[0]} s"
        assert grace <= took < 3 * grace, f"the stop of {replicas} pods took {took:.1f} s"
    finally:
        daemon.reset(name)
    assert _ids(name) == []


def test_a_stop_runs_the_pods_pre_stop_hooks(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`kompy cluster stop` runs each pod container's preStop hook before its stop signal,
    as a node's graceful shutdown does, within the pod's grace period."""
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon

    monkeypatch.setenv("KOMPY_HOME", str(tmp_path))
    monkeypatch.setenv("KOMPY_INGRESS_PORTS", "off")
    name = f"p{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out"
    out.mkdir()
    try:
        client = daemon.ensure_cluster(name)
        client.create(pod("hooked", "default", container(
            "c", "trap 'echo term >> /out/log; exit 0' TERM; while true; do sleep 0.1; done",
            lifecycle={"preStop": {"exec": {"command": [
                "sh", "-c", "echo hook >> /out/log"]}}},
            volumeMounts=[{"name": "out", "mountPath": "/out"}]),
            terminationGracePeriodSeconds=5,
            volumes=[{"name": "out", "hostPath": {"path": str(out)}}]))
        running(client, "hooked", "default")
        daemon.stop(name)
        assert (out / "log").read_text().split() == ["hook", "term"]
    finally:
        daemon.reset(name)


def _docker_time(text: str) -> float:
    """Seconds since the epoch of a time as Docker writes it (nanosecond digits)."""
    from datetime import UTC, datetime
    whole, _, fraction = text.rstrip("Z").partition(".")
    at = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return at.timestamp() + float(f"0.{fraction or 0}")


def test_a_same_named_cluster_of_another_home_is_refused_and_never_touched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon
    from kompy.cluster.kubelet.docker_backend import DockerBackend
    from kompy.errors import ClusterError

    name = f"h{uuid.uuid4().hex[:8]}"
    other_home = tmp_path / "other" / name
    network = f"kompy-{name}-default"
    subprocess.run(["docker", "network", "create", "--label", f"kompy.cluster={name}",
                    "--label", f"kompy.home={other_home}", network], check=True,
                   capture_output=True)
    try:
        monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "mine"))
        with pytest.raises(ClusterError) as error:
            daemon.ensure_cluster(name)
        assert str(other_home) in error.value.message
        assert f"KOMPY_HOME={other_home.parent}" in (error.value.hint or "")
        mine = DockerBackend(name, str(tmp_path / "mine" / name))
        assert mine.list_networks({}) == []
        mine.remove_all(volumes=True)
        mine.remove_network(network)
        listed = subprocess.run(["docker", "network", "ls", "-q", "--filter",
                                 f"name=^{network}$"], check=True, capture_output=True,
                                text=True).stdout.split()
        assert len(listed) == 1  # the other cluster's network is still there
        assert DockerBackend(name, str(other_home)).list_networks({})[0].name == network
    finally:
        subprocess.run(["docker", "network", "rm", network], capture_output=True)
