"""The node's settings (``kubelet.yaml`` in the state folder) on the real engine: container
logs rotated at ``containerLogMaxSize`` with ``containerLogMaxFiles`` kept, ``kompy logs
--previous`` still reading them, and ``maxPods`` as the node's pod capacity."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import container, docker_ok, pod, wait_for

pytestmark = pytest.mark.integration

MAX_SIZE = 64 * 1024
MAX_FILES = 2


@pytest.fixture
def small_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A cluster of its own whose node rotates logs at 64 KiB, two files, and takes 7 pods."""
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon

    monkeypatch.setenv("KOMPY_HOME", str(tmp_path))
    name = f"l{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir(mode=0o700)
    (tmp_path / name / "kubelet.yaml").write_text(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        f"containerLogMaxSize: {MAX_SIZE // 1024}Ki\ncontainerLogMaxFiles: {MAX_FILES}\n"
        "maxPods: 7\n")
    try:
        yield {"client": daemon.ensure_cluster(name), "name": name, "home": tmp_path}
    finally:
        daemon.reset(name)


def inspect(container_id: str) -> dict[str, Any]:
    import docker

    engine = docker.from_env(timeout=30)
    try:
        data: dict[str, Any] = engine.api.inspect_container(container_id)
    finally:
        engine.close()
    return data


def test_logs_rotate_and_logs_previous_reads_them(small_logs: dict[str, Any]) -> None:
    client = small_logs["client"]
    # About 1 MiB of numbered lines (16 times the limit), then a last line, then a crash.
    script = ("i=0; while [ $i -lt 16000 ]; do echo \"line $i $(printf '%50s' x)\"; "
              "i=$((i+1)); done; echo 'the last line'; exit 1")
    client.create(pod("chatty", "default", container("c", script)))
    status = wait_for("a restart of the chatty container", lambda: next(
        (cs for cs in (client.get("pods", "chatty", "default").get("status") or {})
         .get("containerStatuses") or [] if cs.get("restartCount", 0) >= 1), None), 120)
    first = status["lastState"]["terminated"]["containerID"].removeprefix("docker://")
    data = inspect(first)
    assert data["HostConfig"]["LogConfig"] == {
        "Type": "json-file", "Config": {"max-size": str(MAX_SIZE), "max-file": str(MAX_FILES)}}
    log_path = Path(data["LogPath"])
    files = sorted(log_path.parent.glob(log_path.name + "*"))
    try:
        total = sum(f.stat().st_size for f in files)
    except PermissionError:  # the engine's files are root's: checked when we are root
        total = 0
    # json-file wraps each ~60-byte line into ~120 bytes of JSON: unbounded, 2 MiB.
    assert 1 <= len(files) <= MAX_FILES
    assert total <= MAX_FILES * MAX_SIZE + 4096
    env = {**os.environ, "KOMPY_CLUSTER": small_logs["name"]}
    out = subprocess.run([sys.executable, "-m", "kompy", "logs", "chatty", "--previous"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "the last line"
    # What is left is the newest part (at most the kept files hold), in order.
    numbers = [int(line.split()[1]) for line in lines[:-1]]
    assert numbers == list(range(numbers[0], 16000))
    assert numbers[0] > 0 and len(lines) * 60 <= MAX_FILES * MAX_SIZE


def test_the_node_takes_max_pods_from_kubelet_yaml(small_logs: dict[str, Any]) -> None:
    client = small_logs["client"]
    # The scheduler creates the node, then writes its status: wait for both.
    node = wait_for("the node registered with its capacity", lambda: [
        n for n in client.list("nodes")["items"] if (n.get("status") or {}).get("capacity")],
        30)[0]
    assert node["status"]["capacity"]["pods"] == "7"
    assert node["status"]["allocatable"]["pods"] == "7"


def test_a_wrong_setting_stops_the_start_with_its_line(tmp_path: Path) -> None:
    name = f"w{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir(mode=0o700)
    (tmp_path / name / "kubelet.yaml").write_text("maxPods: 10\ncontainerLogMaxFiles: 1\n")
    env = {**os.environ, "KOMPY_HOME": str(tmp_path), "KOMPY_CLUSTER": name}
    out = subprocess.run([sys.executable, "-m", "kompy", "cluster", "start"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        f"error: {tmp_path / name / 'kubelet.yaml'}:2:1: containerLogMaxFiles: must be a "
        "whole number, 2 or more, not 1")
    assert not (tmp_path / name / "daemon.pid").exists()
