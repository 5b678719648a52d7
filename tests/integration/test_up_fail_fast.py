"""``kompy up`` on the real engine (issue #16): a second ``up`` after a change rebuilds and
rolls the pods, as ``docker compose up --build`` recreates the containers; an image that
cannot be pulled or a program that keeps crashing fails the wait within seconds, with the
reason and the container's last output, instead of running out the 120 s timeout."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import leakkit
import pytest
from enginekit import free_port, own_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with own_cluster(tmp_path_factory.mktemp("up-home"), "up", NO_COLOR="1") as env:
        yield env


def kompy(env: dict[str, str], cwd: Path, *args: str, timeout: float = 240
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kompy", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _get(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError):
        return None


def test_up_again_after_a_change_rebuilds_and_rolls(tmp_path: Path, env: dict[str, str]
                                                    ) -> None:
    port = free_port()
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(
        # (a label of this run: the image's content tag is new, so the first `up` builds)
        f"FROM kompy/busybox:1\nLABEL kompy.test.run={uuid.uuid4().hex}\n"
        "COPY index.html /www/index.html\n"
        'CMD ["sh", "-c", "httpd -f -p 8000 -h /www & trap \'kill $!; exit 0\' TERM; wait"]\n')
    page = tmp_path / "web" / "index.html"
    page.write_text("one\n")
    (tmp_path / "compose.yaml").write_text(
        f"name: twice\nservices:\n  web:\n    build: ./web\n    ports: ['{port}:8000']\n")
    repo, = leakkit.own_images(tmp_path / "compose.yaml")   # own_cluster removes it
    try:
        first = kompy(env, tmp_path, "up")
        assert first.returncode == 0, first.stderr
        assert _get(port) == "one"
        # Not a terminal: the cluster's start is said, and each build step is a plain line.
        lines = first.stdout.splitlines()
        # (the image's tag is the hash of its inputs: kompy/engine/contexthash.py)
        assert any(re.fullmatch(rf"building web \({repo}:[0-9a-f]{{16}}\)", line)
                   for line in lines), first.stdout
        assert "starting the built-in cluster" in first.stdout   # (while the image builds)
        assert "  web | Step 1/4 : FROM kompy/busybox:1" in lines
        assert any(line.startswith("built web in ") for line in lines)
        assert "applying 2 objects to namespace twice" in lines
        again = kompy(env, tmp_path, "up")
        assert again.returncode == 0, again.stderr
        assert "deployment/web configured" not in again.stdout  # nothing changed: no roll
        page.write_text("two\n")
        third = kompy(env, tmp_path, "up")
        assert third.returncode == 0, third.stderr
        assert "deployment/web configured" in third.stdout
        deadline = time.monotonic() + 60   # the old pod leaves the Service's endpoints
        while _get(port) != "two" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _get(port) == "two"
    finally:
        kompy(env, tmp_path, "down")


def test_an_image_that_cannot_be_pulled_fails_fast(tmp_path: Path, env: dict[str, str]
                                                   ) -> None:
    (tmp_path / "compose.yaml").write_text(
        "name: nopull\nservices:\n  api:\n    image: kompy-test.invalid/nosuch:1\n")
    try:
        began = time.monotonic()
        done = kompy(env, tmp_path, "up", "--wait-timeout", "300s")
        took = time.monotonic() - began
        assert done.returncode == 2, done.stderr
        # Given up on the pull's failure, not at the timeout (the message below says why);
        # a bound far from both, as a loaded machine stretches the seconds it takes.
        assert took < 150, f"kompy up took {took:.1f} s to give up"
        assert "error: pod/api-" in done.stderr
        assert "container api is waiting to start: kompy-test.invalid/nosuch:1 can't be " \
               "pulled" in done.stderr
        assert "hint: check the image name" in done.stderr
        print(f"unpullable image: kompy up failed after {took:.1f} s")
    finally:
        kompy(env, tmp_path, "down")


def test_a_crash_loop_fails_fast_with_the_last_output(tmp_path: Path, env: dict[str, str]
                                                      ) -> None:
    (tmp_path / "compose.yaml").write_text(
        "name: crashes\nservices:\n  job:\n    image: kompy/busybox:1\n"
        "    command: [sh, -c, 'echo starting; echo fatal: no config file >&2; exit 4']\n")
    try:
        began = time.monotonic()
        done = kompy(env, tmp_path, "up", "--wait-timeout", "300s")
        took = time.monotonic() - began
        assert done.returncode == 2, done.stderr
        assert took < 150, f"kompy up took {took:.1f} s to give up"   # (as above)
        assert "container job keeps crashing: exit code 4" in done.stderr
        hint = done.stderr.split("hint: ", 1)[1]
        assert "--previous" in hint and "    fatal: no config file" in hint
        print(f"crash loop: kompy up failed after {took:.1f} s")
    finally:
        kompy(env, tmp_path, "down")
