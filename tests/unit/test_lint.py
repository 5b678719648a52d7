"""The house's lint and types (pyproject's [tool.ruff] and [tool.mypy]) hold on every run of
the tests, not only when someone remembers to run them: a lint error had landed unseen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing_in_kompy() -> None:
    result = _run("mypy", "kompy")
    assert result.returncode == 0, result.stdout + result.stderr
