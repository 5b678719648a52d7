"""The Docker engine lost and found again, as during a Docker restart, on the real engine.

Restarting dockerd would kill the containers of everyone sharing this engine, so the
cluster's daemon reaches the engine through :class:`engineproxy.EngineProxy`, which the test
cuts (every connection breaks, new ones are refused) and restores. While it is cut, the test
kills the pod's container directly on the engine, as a restart without live-restore does,
and the kubelet cannot hear of it.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from clusterkit import container, docker_ok, events, pod, running, wait_for
from engineproxy import EngineProxy

pytestmark = pytest.mark.integration


def restart_count(client: Any, name: str) -> int:
    statuses = (client.get("pods", name, "default").get("status") or {}).get(
        "containerStatuses") or [{}]
    return int(statuses[0].get("restartCount", 0))


def test_a_lost_engine_is_one_line_each_and_the_pods_come_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon

    proxy = EngineProxy(tmp_path / "docker.sock").start()
    monkeypatch.setenv("DOCKER_HOST", proxy.url)
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "home"))
    name = f"e{uuid.uuid4().hex[:8]}"
    log_file = tmp_path / "home" / name / "daemon.log"
    try:
        client = daemon.ensure_cluster(name)
        client.create(pod("p", "default", container("c", "exec sleep 3600")))
        first = running(client, "p", "default")["status"]["containerStatuses"][0]
        before = log_file.read_text()

        proxy.cut()
        # What a restart without live-restore does to the running containers.
        subprocess.run(["docker", "-H", f"unix://{proxy.target}", "kill",
                        first["containerID"].removeprefix("docker://")], check=True,
                       capture_output=True)
        client.create(pod("q", "default", container("c", "exec sleep 3600")))
        failed = wait_for("q's sync failing twice", lambda: [
            e for e in events(client, "default", "q")
            if e["reason"] == "FailedSync" and e.get("count", 1) >= 2], 30)
        assert "Docker engine connection failed" in failed[0]["message"]
        waiting = client.get("pods", "q", "default")["status"]["containerStatuses"][0][
            "state"]["waiting"]
        assert waiting["reason"] == "CreateContainerError"

        proxy.restore()
        wait_for("p restarted once", lambda: restart_count(client, "p") == 1, 60)
        running(client, "p", "default")
        running(client, "q", "default")
        during = log_file.read_text()[len(before):]
        assert "Traceback" not in during
        assert during.count("lost the Docker engine's event stream") == 1
        assert during.count("the Docker engine answers again") == 1
    finally:
        proxy.restore()
        try:
            daemon.reset(name)
        finally:
            proxy.close()
