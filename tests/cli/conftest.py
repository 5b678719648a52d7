"""What the CLI tests share: kompy's CLI run in process (clikit.py), and a built-in cluster of
the test's own that serves the API only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from clikit import run  # noqa: E402


@pytest.fixture
def cluster(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Path]:
    """The state folder of a built-in cluster in the test's own KOMPY_HOME, serving the API
    only (KOMPY_CLUSTER_NO_RUNTIME: no Docker); the first command that needs it starts it,
    and it is stopped at the end. A test file may refine it (a fixture of the same name)."""
    home = tmp_path / "kompy-home"
    monkeypatch.setenv("KOMPY_HOME", str(home))
    monkeypatch.setenv("KOMPY_CLUSTER_NO_RUNTIME", "1")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    yield home / "default"
    run("cluster", "stop")
