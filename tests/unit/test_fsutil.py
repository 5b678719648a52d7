"""Atomic writes: durable by default (fsync before the rename), or only atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kompy.fsutil import write_atomic


def test_a_durable_write_syncs_before_the_rename(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    write_atomic(tmp_path / "f", "one", mode=0o600)
    assert (tmp_path / "f").read_text() == "one"
    assert len(synced) == 1


def test_a_derived_file_is_written_atomically_without_fsync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sync(fd: int) -> None:
        raise AssertionError("fsync called")

    monkeypatch.setattr(os, "fsync", no_sync)
    target = tmp_path / "token"
    target.write_text("old")
    write_atomic(target, b"new", mode=0o640, durable=False)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["token"]   # no temporary file left
