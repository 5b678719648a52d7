"""daemon.log rotation at daemon start (no Docker: the daemon process itself is faked)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kompy.cluster.daemon import process as daemon
from kompy.errors import ClusterError


def sized(path: Path, size: int, fill: bytes = b"x") -> Path:
    path.write_bytes(fill * size)
    return path


def test_a_log_at_the_limit_stays_and_a_larger_one_becomes_dot_1(tmp_path: Path) -> None:
    log = sized(tmp_path / "daemon.log", 100, b"n")
    assert not daemon.rotate_log(log, limit=100)
    assert log.read_bytes() == b"n" * 100 and not (tmp_path / "daemon.log.1").exists()

    sized(tmp_path / "daemon.log.1", 7, b"o")  # an older generation: replaced
    log.write_bytes(b"n" * 101)
    assert daemon.rotate_log(log, limit=100)
    assert not log.exists()
    assert (tmp_path / "daemon.log.1").read_bytes() == b"n" * 101
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daemon.log.1"]


def test_no_log_yet_is_nothing_to_rotate(tmp_path: Path) -> None:
    assert not daemon.rotate_log(tmp_path / "daemon.log")
    assert list(tmp_path.iterdir()) == []


def test_the_default_limit_is_5_mib(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    with open(log, "wb") as f:
        f.truncate(5 * 2**20)  # sparse: no 5 MiB written
    assert not daemon.rotate_log(log)
    with open(log, "ab") as f:
        f.write(b"!")
    assert daemon.rotate_log(log)


def test_a_log_that_cannot_rotate_is_kept_and_appended_to(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    log = sized(tmp_path / "daemon.log", 20)
    (tmp_path / "daemon.log.1").mkdir()  # rename() cannot replace a directory
    assert not daemon.rotate_log(log, limit=10)
    assert log.read_bytes() == b"x" * 20
    assert "could not rotate" in caplog.text


class FakeDaemon:
    """Stands in for subprocess.Popen: notes the log it was handed, then 'exits' at once."""

    seen: list[tuple[str, int, bool]] = []

    def __init__(self, args: list[str], *, stdout: Any, **_: Any) -> None:
        path = Path(stdout.name)
        FakeDaemon.seen.append((path.name, os.fstat(stdout.fileno()).st_size,
                                path.with_name("daemon.log.1").exists()))
        stdout.write(b"error: fake daemon\n")
        self.pid = 0

    def poll(self) -> int:
        return 1


def test_start_rotates_a_big_log_before_the_daemon_is_spawned(
        tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "kompy"))
    monkeypatch.setenv(daemon.NO_RUNTIME_ENV, "1")
    monkeypatch.setattr(daemon, "LOG_LIMIT", 1000)
    monkeypatch.setattr(subprocess, "Popen", FakeDaemon)  # the module daemon.py calls
    FakeDaemon.seen = []
    state_dir = tmp_path / "kompy" / "logtest"
    state_dir.mkdir(parents=True)
    sized(state_dir / "daemon.log", 1001, b"p")

    with pytest.raises(ClusterError, match="fake daemon"):
        daemon.start("logtest")
    assert FakeDaemon.seen == [("daemon.log", 0, True)]  # a fresh file, the old one kept
    assert (state_dir / "daemon.log.1").read_bytes() == b"p" * 1001
    assert (state_dir / "daemon.log").read_bytes() == b"error: fake daemon\n"

    with pytest.raises(ClusterError):  # a small log: the next daemon appends to it
        daemon.start("logtest")
    assert FakeDaemon.seen[1] == ("daemon.log", len(b"error: fake daemon\n"), True)
    assert (state_dir / "daemon.log.1").read_bytes() == b"p" * 1001
