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


def test_mypy_strict_finds_nothing_in_kompy_and_benchmarks() -> None:
    """benchmarks/ too, as strictly: they drive kompy's own APIs, and 15 type errors had
    gathered there unseen (lambdas binding loop variables, wrk's regex matches read as if
    always found). One mypy run for both: they share the cache of kompy's modules."""
    result = _run("mypy", "kompy", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr
