"""``kompy dev`` end to end on a real Docker engine: the real CLI in a subprocess on a copy of
samples/devloop whose files change under it, HTTP requests to its published port, Ctrl-C at
the end."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "devloop"


def _docker_ok() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None  # not served yet, or a connection cut while a pod restarts


def _wait_for(what: str, probe: object, timeout: float, output: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; kompy dev said:\n"
                         + "".join(output[-60:]))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    if not _docker_ok():
        pytest.skip("no Docker engine")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "KOMPY_"))}
    env.update(KOMPY_HOME=str(home), KOMPY_CLUSTER=f"dev-{uuid.uuid4().hex[:8]}",
               HOME=str(home), KOMPY_CACHE_DIR=str(home / "cache"), PYTHONUNBUFFERED="1")
    yield env
    subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                   capture_output=True, timeout=180)


def test_dev_syncs_restarts_rebuilds_and_cleans_up(tmp_path: Path, env: dict[str, str]
                                                   ) -> None:
    port = _free_port()
    project = tmp_path / "devloop"
    shutil.copytree(SAMPLE, project)
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace('"8090:8000"', f'"{port}:8000"'))
    dockerfile = project / "web" / "Dockerfile"

    proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        _wait_for("the first deploy", lambda: _get(port, "/index.html") == "v1", 240, output)
        _wait_for("watching", lambda: any("watching" in line for line in output), 30, output)
        assert _get(port, "/greeting.txt") == "hello"

        # sync: the new file is served by the same pod, without a rollout
        (project / "web" / "www" / "index.html").write_text("v2\n")
        _wait_for("the synced page", lambda: _get(port, "/index.html") == "v2", 30, output)
        _wait_for("the sync's report", lambda: any("web: synced 1 file into 1 pod" in line
                                                   for line in output), 10, output)

        # sync+restart: only a restart copies the greeting into /www
        (project / "web" / "conf" / "greeting").write_text("bonjour\n")
        _wait_for("the restarted container", lambda: _get(port, "/greeting.txt") == "bonjour",
                  60, output)
        assert _get(port, "/index.html") == "v2"  # the same container: synced files kept

        # rebuild: a new image, rolled out
        dockerfile.write_text(dockerfile.read_text().replace("echo 1 >", "echo 2 >"))
        _wait_for("the rebuilt image", lambda: _get(port, "/build.txt") == "2", 180, output)
        # request logs stream with the service's prefix
        _wait_for("the pod's log", lambda: any(line.startswith("web-") and " | " in line
                                               for line in output), 30, output)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    reader.join(5)
    assert code == 0, "".join(output[-40:])
    left = subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=kompy.cluster={env['KOMPY_CLUSTER']}", "--filter",
                           "label=kompy.namespace=devloop"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert left == [], "Ctrl-C removes the project"
