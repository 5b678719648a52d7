"""Shared test switches and fixtures.

``pytest --update-golden`` rewrites the expected files under tests/golden/ instead of
comparing against them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The kits the unit and integration tests share (netkit.py, ingresskit.py); pytest's
# --import-mode=importlib does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parent.parent
# ../shared/corpus beside the checkout (CI); a worktree elsewhere names it in KOMPY_TEST_CORPUS.
CORPUS = Path(os.environ.get("KOMPY_TEST_CORPUS") or REPO.parent / "shared" / "corpus")
INGRESS_PORTS = "0,0"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kompy's cache of compiled validators goes to a temp folder, never the real $HOME."""
    import os

    folder = tmp_path_factory.mktemp("kompy-cache")
    os.environ["KOMPY_CACHE_DIR"] = str(folder)
    # Clusters started by tests listen for Ingress traffic on free ports, never on 80/443
    # (which a developer's own cluster, or another test run, may hold).
    os.environ.setdefault("KOMPY_INGRESS_PORTS", INGRESS_PORTS)
    return folder


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real Compose files; tests using it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No COMPOSE_* or KOMPY_* variable leaks in from the developer's shell; HOME is a temp dir."""
    import os

    for key in list(os.environ):
        if key.startswith(("COMPOSE_", "KOMPY_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KOMPY_INGRESS_PORTS", INGRESS_PORTS)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home
