"""The daemon's process environment (issue #12's soak: its memory grew for hours)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.cluster.daemon import process as daemon


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_the_daemon_runs_with_two_malloc_arenas_unless_the_user_chose(
        tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc's per-thread arenas (a hundred threads in the daemon) held ever more free
    space: 10 MiB against 2.5 MiB with two, after 7 minutes of the soak's fast mode."""
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "kompy"))
    monkeypatch.setenv(daemon.NO_RUNTIME_ENV, "1")
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    for chosen, expected in ((None, "2"), ("4", "4")):
        if chosen:
            monkeypatch.setenv("MALLOC_ARENA_MAX", chosen)
        try:   # stopped even when the start timed out on a busy machine
            state, _, _ = daemon.start("envtest")
            assert environ(int(state.pid_file.read_text()))["MALLOC_ARENA_MAX"] == expected
        finally:
            daemon.stop("envtest")
