"""``kompy dev`` end to end on a real Docker engine: the real CLI in a subprocess on a copy of
samples/devloop whose files change under it, HTTP requests to its published port, Ctrl-C at
the end."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import leakkit
import pytest
from enginekit import Session, default_sigint, free_port, own_cluster, wait_said

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "devloop"


def _get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None  # not served yet, or a connection cut while a pod restarts


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with own_cluster(tmp_path / "home", "dev", PYTHONUNBUFFERED="1") as env:
        yield env


def test_dev_syncs_restarts_rebuilds_and_cleans_up(tmp_path: Path, env: dict[str, str]
                                                   ) -> None:
    port = free_port()
    project = tmp_path / "devloop"
    shutil.copytree(SAMPLE, project)
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace('"8090:8000"', f'"{port}:8000"'))
    leakkit.own_images(compose)   # not devloop-web: a user's own sample session uses it
    dockerfile = project / "web" / "Dockerfile"

    session = Session(project, env)
    output = session.output
    try:
        wait_said("the first deploy", lambda: _get(port, "/index.html") == "v1", 240, output)
        wait_said("watching", lambda: any("watching" in line for line in output), 30, output)
        assert _get(port, "/greeting.txt") == "hello"

        # rebuild: "up to date" only once the rollout is done as kubectl judges it and the
        # new container has run a second (readiness.STABLE): well after the new pod serves
        # (the report could come before the new pod even ran). Before any sync: a new pod
        # that gets synced files again is restarted in place by the tracker meanwhile.
        reports = _count(output, "up to date in")
        dockerfile.write_text(dockerfile.read_text().replace("echo 1 >", "echo 2 >"))
        served = _served_at(port, "/build.txt", "2", 180, output)
        wait_said("the rollout's report", lambda: _count(output, "up to date in") > reports,
                  60, output)
        reported = next(session.arrived[i] for i, line in enumerate(list(output))
                        if "up to date in" in line and _count(output[:i + 1], "up to date in")
                        > reports)
        assert reported - served > 0.3, "".join(output[-20:])

        # sync: the new file is served by the same pod, without a rollout
        (project / "web" / "www" / "index.html").write_text("v2\n")
        wait_said("the synced page", lambda: _get(port, "/index.html") == "v2", 30, output)
        wait_said("the sync's report", lambda: any("web: synced 1 file into 1 pod" in line
                                                   for line in output), 10, output)

        # sync+restart: only a restart copies the greeting into /www
        (project / "web" / "conf" / "greeting").write_text("bonjour\n")
        wait_said("the restarted container", lambda: _get(port, "/greeting.txt") == "bonjour",
                  60, output)
        assert _get(port, "/index.html") == "v2"  # the same container: synced files kept

        # rebuild: a new image, rolled out
        dockerfile.write_text(dockerfile.read_text().replace("echo 2 >", "echo 3 >"))
        wait_said("the rebuilt image", lambda: _get(port, "/build.txt") == "3", 180, output)
        # request logs stream with the service's prefix
        wait_said("the pod's log", lambda: any(line.startswith("web-") and " | " in line
                                               for line in output), 30, output)
        # the status the dashboard's dev panel reads: the rebuild, how long it took
        wait_said("the rebuild in the status file", lambda: _status(env, "rebuild"), 60, output)
        status = _status(env, "rebuild")
        assert status["state"] == "watching" and "web" in status["watched"]
        assert status["last_ok"] and status["last_seconds"] > 0

        # a save during a rollout's wait is carried out at once, not after the wait
        mark = len(output)
        dockerfile.write_text(dockerfile.read_text().replace("echo 3 >", "echo 4 >"))
        wait_said("the rollout's wait", lambda: any(
            line.startswith("[kompy] ready: web") for line in output[mark:]), 120, output)
        dockerfile.write_text(dockerfile.read_text().replace("echo 4 >", "echo 5 >"))
        _served_at(port, "/build.txt", "5", 180, output)
        assert any("a newer change came" in line for line in output[mark:]), \
            "".join(output[mark:])
    finally:
        code, _ = session.interrupt()
    assert code == 0, "".join(output[-40:])
    left = subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=kompy.cluster={env['KOMPY_CLUSTER']}", "--filter",
                           "label=kompy.namespace=devloop"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert left == [], "Ctrl-C removes the project"
    assert _status(env, "")["state"] == "stopped"


def _count(output: list[str], text: str) -> int:
    return sum(text in line for line in list(output))


def _served_at(port: int, path: str, wanted: str, timeout: float, output: list[str]
               ) -> float:
    """When ``path`` first answered ``wanted`` (asked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _get(port, path) == wanted:
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {path} to be {wanted!r}; "
                         "kompy dev said:\n" + "".join(output[-60:]))


def _status(env: dict[str, str], kind: str) -> Any:
    """kompy dev's status file (kompy/dev/status.py) once its last change is ``kind``."""
    path = Path(env["KOMPY_HOME"]) / "dev" / "devloop.json"
    found = json.loads(path.read_text()) if path.exists() else None
    return found if found and (not kind or found["last_kind"] == kind) else None


CRASHY_COMPOSE = """\
name: crashy
services:
  web:
    build: ./web
    image: crashy-web:dev
    ports:
      - "PORT:8000"
    develop:
      watch:
        - path: ./web/www
          action: sync
          target: /www
        - path: ./web/app
          action: sync+restart
          target: /app
"""
SERVE = "httpd -f -p 8000 -h /www & trap 'kill $!; exit 0' TERM; wait\n"


def _crashy(folder: Path, port: int) -> Path:
    """A busybox web server whose start script is synced and restarted (sync+restart) and
    whose page is synced (sync)."""
    (folder / "web" / "www").mkdir(parents=True)
    (folder / "web" / "app").mkdir()
    (folder / "compose.yaml").write_text(CRASHY_COMPOSE.replace("PORT", str(port)))
    leakkit.own_images(folder / "compose.yaml")
    (folder / "web" / "Dockerfile").write_text(
        "FROM kompy/busybox:1\nCOPY www /www\nCOPY app /app\nCMD [\"sh\", \"/app/start.sh\"]\n")
    (folder / "web" / "www" / "index.html").write_text("page 1\n")
    (folder / "web" / "app" / "start.sh").write_text(
        "echo starting version 1\necho 1 > /www/version.txt\n" + SERVE)
    return folder


class Terminal:
    """`kompy dev` on a pseudo-terminal (so it colours its output), its output gathered."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-c", _DUMPABLE_KOMPY, "dev"], cwd=cwd,
                                     env={**env, "COLUMNS": "120", "TERM": "xterm"},
                                     stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=default_sigint, close_fds=True)
        os.close(slave)
        self.data = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.data += chunk

    def text(self, start: int = 0) -> str:
        with self._lock:
            return self.data[start:].decode(errors="replace")

    def mark(self) -> int:
        with self._lock:
            return len(self.data)

    def lines(self) -> list[str]:
        """What kompy printed so far, a line each (line ends kept)."""
        return self.text().splitlines(keepends=True)

    @property
    def output(self) -> Sequence[str]:
        """A live view of :meth:`lines` for wait_said: read when a wait fails, so the
        failure shows what kompy printed while it waited (and, for a failed wait, where
        each of its threads was: :meth:`lines_and_stacks`), not what it printed before."""
        return _Live(self.lines_and_stacks)

    def lines_and_stacks(self) -> list[str]:
        """:meth:`lines`, and when kompy still runs, its threads' stacks (faulthandler's
        dump on SIGUSR1), so a failed wait shows where kompy was stuck."""
        if self.proc.poll() is not None:
            return self.lines()
        start = self.mark()
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "File " not in self.text(start):
            time.sleep(0.05)
        time.sleep(0.2)   # the rest of the dump (a diagnostic: no test waits on this)
        before = self.text()[:start].splitlines(keepends=True)
        return [*before, "\nkompy's threads:\n" + self.text(start)]  # the dump as one line

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.master)


# ``python -m kompy`` that dumps its threads' stacks on SIGUSR1 (Terminal.lines_and_stacks).
_DUMPABLE_KOMPY = ("import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1); "
                   "sys.argv[0] = 'kompy'; from kompy.cli import main; main()")


class _Live(Sequence[str]):
    """A sequence read afresh from ``source`` on every access."""

    def __init__(self, source: Callable[[], list[str]]) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source())

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self.source()[index]


RED = "\x1b[31m"


def test_a_crash_is_shown_in_red_and_a_fix_keeps_the_earlier_edits(
        tmp_path: Path, env: dict[str, str]) -> None:
    """Issue #16: a sync+restart rule whose script is broken, then fixed. The crash's output
    is on screen within 5 s, in red with its exit code; the container the kubelet starts
    instead (from the image) gets the earlier edits again; the fix is served with the
    earlier edit kept, and "up to date" comes only once the restart is done."""
    port = free_port()
    project = _crashy(tmp_path / "crashy", port)
    script = project / "web" / "app" / "start.sh"
    term = Terminal(project, env)
    seen = term.output
    try:
        wait_said("the first deploy", lambda: _get(port, "/version.txt") == "1", 240, seen)
        wait_said("watching", lambda: "watching" in term.text(), 30, seen)

        page = term.mark()
        (project / "web" / "www" / "index.html").write_text("edited page\n")
        wait_said("the synced page", lambda: _get(port, "/index.html") == "edited page", 30,
                  seen)
        # Its report comes a moment after the page is served: it must not be taken for the
        # next change's.
        wait_said("the page's report", lambda: "up to date in" in term.text(page), 30, seen)

        start = term.mark()
        began = time.monotonic()
        script.write_text("echo starting version 2\necho 'boom: missing setting' >&2\nexit 3\n")
        wait_said("the crash on screen", lambda: "boom: missing setting" in term.text(start)
                  and "crashed with exit code 3" in term.text(start), 30, seen)
        # How soon is printed below and measured in docs/dev.md; asserting a wall-clock
        # bound here would test the machine's load.
        latency = time.monotonic() - began
        crash = term.text(start)
        assert f"{RED}boom: missing setting" in crash, crash  # the dying words, in red
        assert "up to date" not in crash.split("crashed with exit code 3")[0], crash
        wait_said("the verdict", lambda: "web crashed after the change" in term.text(start),
                  30, seen)
        # The kubelet replaced the container from the image; kompy synced the edits into it
        # again (and restarted it: so it crashes again, as the sources say).
        wait_said("the re-sync", lambda: "synced 2 changed files again" in term.text(start),
                  30, seen)

        fixed = term.mark()
        began = time.monotonic()
        script.write_text("echo starting version 3\necho 3 > /www/version.txt\n" + SERVE)
        wait_said("the fix served", lambda: _get(port, "/version.txt") == "3", 60, seen)
        recovery = time.monotonic() - began
        assert _get(port, "/index.html") == "edited page"   # the earlier edit was kept
        wait_said("up to date", lambda: "up to date in" in term.text(fixed), 30, seen)
        print(f"crash on screen after {latency:.2f} s; fix served after {recovery:.2f} s")
    finally:
        code = term.stop()
    assert code == 0, term.text()[-3000:]
