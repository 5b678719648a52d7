"""What the integration tests share: whether a Docker engine answers, a free port on
127.0.0.1, a built-in cluster of the test's own, a copy of a sample on a free port, waiting on
a condition, and kompy's CLI (and ``kompy dev``) in a subprocess.
(tests/integration/conftest.py puts this folder on sys.path.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import leakkit
import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]


def docker_ok() -> bool:
    """Whether a Docker engine answers; the tests that need one skip without it."""
    try:
        import docker

        docker.from_env(timeout=30).ping()
    except Exception:  # noqa: BLE001 - any failure means: no engine to test against
        return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster_env(home: Path, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of kompy subprocesses that use a built-in cluster of their own (named
    ``PREFIX-<random>``) with its state, HOME and cache under ``home``, and no COMPOSE_* or
    KOMPY_* variable of the caller's; ``extra`` adds or overrides variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "KOMPY_"))}
    env.update(KOMPY_HOME=str(home), KOMPY_CLUSTER=f"{prefix}-{uuid.uuid4().hex[:8]}",
               HOME=str(home), KOMPY_CACHE_DIR=str(home / "cache"), **extra)
    return env


@contextmanager
def own_cluster(home: Path, prefix: str, **extra: str) -> Iterator[dict[str, str]]:
    """:func:`cluster_env` for a fixture (skipped without a Docker engine); at the end the
    cluster is reset, which must succeed, and whatever the engine still holds with the
    cluster's label (and nothing else) is removed. No Ingress unless ``extra`` asks for one
    (KOMPY_INGRESS_PORTS): no 80/443, no extra ports."""
    if not docker_ok():
        pytest.skip("no Docker engine")
    env = cluster_env(home, prefix, **{"KOMPY_INGRESS_PORTS": "off", **extra})
    mark = leakkit.made_mark()
    try:
        yield env
    finally:
        _reset_and_tidy(env, leakkit.made_since(mark))


def _reset_and_tidy(env: dict[str, str], repos: list[str]) -> None:
    """The end of :func:`own_cluster`: ``kompy cluster reset``, which must succeed and leave
    no container or volume of the cluster (a user's reset would leave them too); what is
    left of the cluster's label is removed anyway, then the images the samples it ran were
    built under (their pods are gone now). A network may stay: Docker 20.10 sometimes keeps
    a removed container's endpoint for good (reset says so), an engine bug."""
    reset = kompy(env, "cluster", "reset", "--yes", timeout=180)
    label = f"label=kompy.cluster={env['KOMPY_CLUSTER']}"

    def listed(listing: list[str]) -> list[str]:
        return subprocess.run(["docker", *listing, "--filter", label], capture_output=True,
                              text=True, timeout=120).stdout.split()

    # (a container whose removal was under way when reset ended goes a moment later)
    deadline = time.monotonic() + 10
    while (listed(["ps", "-aq"]) or listed(["volume", "ls", "-q"])) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    left = {"containers": listed(["ps", "-a", "--format", "{{.Names}}"]),
            "volumes": listed(["volume", "ls", "-q"])}
    for listing, removal in ((["ps", "-aq"], ["rm", "-f"]), (["network", "ls", "-q"],
                             ["network", "rm"]), (["volume", "ls", "-q"], ["volume", "rm", "-f"])):
        ids = listed(listing)
        if ids:
            subprocess.run(["docker", *removal, *ids], capture_output=True, timeout=120)
    leakkit.remove_repositories(repos)
    assert reset.returncode == 0, reset.stdout + reset.stderr   # the daemon must be gone too
    assert not any(left.values()), f"`kompy cluster reset` left {left}:\n{reset.stdout}"


def sample(name: str, tmp_path: Path) -> tuple[Path, int]:
    """A copy of ``samples/<name>`` whose one published port is a free one, its built images
    named as the session's own (leakkit.own_images: :func:`own_cluster` removes them)."""
    folder = tmp_path / name
    shutil.copytree(REPO / "samples" / name, folder)
    compose = folder / "compose.yaml"
    port = free_port()
    text, count = re.subn(r'"\d+(-\d+)?:8000"', f'"{port}:8000"', compose.read_text())
    assert count == 1, "the sample should publish one port"
    compose.write_text(text)
    leakkit.own_images(compose)
    return folder, port


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 60,
               diagnose: Callable[[], str] = lambda: "",
               retry_on: tuple[type[BaseException], ...] = (OSError, ValueError)) -> T:
    """Wait for ``probe()`` to return something true (a value, or True), retrying the
    errors ``retry_on`` names (a server not answering yet: OSError and URLError; half a
    JSON answer: ValueError); fail saying what it waited for, the last error and what
    ``diagnose()`` shows (pod status, events, kompy's output)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except retry_on as error:
            value, last = None, error
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; "
                         f"last: {last!r}\n{diagnose()}")


def wait_said(what: str, probe: Callable[[], object], timeout: float,
              output: Sequence[str]) -> None:
    """:func:`eventually` for a condition on a running kompy process (``kompy dev``): on
    failure it shows the last lines the process printed (``output``, read at the failure:
    a list the process's reader goes on filling, or a live view such as test_dev's
    Terminal output)."""
    eventually(what, probe, timeout, lambda: "kompy said:\n" + "".join(output[-60:]))


def default_sigint() -> None:
    """Ctrl-C must reach kompy even when the tests run as a background job of a
    non-interactive shell, which starts its children with SIGINT ignored (a preexec_fn)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kompy(env: dict[str, str], *args: str, cwd: Path | None = None, input: str | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``kompy ARGS`` in a subprocess with ``env``; its output captured as text."""
    return subprocess.run([sys.executable, "-m", "kompy", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, input=input)


class Session:
    """``kompy dev ARGS`` in a subprocess, its output gathered."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev", *args], cwd=cwd,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, preexec_fn=default_sigint)
        self.output: list[str] = []
        self.arrived: list[float] = []   # when each line of output came (monotonic)
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in iter(self.proc.stdout.readline, ""):  # type: ignore[union-attr]
            self.arrived.append(time.monotonic())
            self.output.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.output)

    def interrupt(self, timeout: float = 120) -> tuple[int, float]:
        """SIGINT; (exit code, seconds until the process ended)."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        took = time.monotonic() - began
        self.reader.join(5)
        return code, took
