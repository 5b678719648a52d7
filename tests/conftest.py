"""Shared test switches and fixtures, and the session's Docker leak guard.

``pytest --update-golden`` rewrites the expected files under tests/golden/ instead of
comparing against them.

At the end of a session, the Docker objects that carry the session's own marks (its
clusters' state folders under its temporary root, its images named under
``leakkit.PREFIX``: tests/leakkit.py) must be gone. Any left is listed, removed, and the
session fails: a leak reported in a passing run is read by nobody, and the shared machine
held ~150 leaked images and a dozen volumes before this guard. Only the session's own
objects are looked at, so other sessions running beside it on the engine never trip it.
``KOMPY_TEST_LEAKS=report`` reports without failing (a session cut short on purpose).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

# The kits the unit and integration tests share (netkit.py, ingresskit.py); pytest's
# --import-mode=importlib does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import leakkit  # noqa: E402

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


LEAKS = pytest.StashKey[tuple[list[str], list[str]]]()
# Containers are removed at once, but the engine may release a network or volume a moment
# after: what is left is looked at again for this long before it counts as a leak.
LEAK_SETTLE_SECONDS = 20.0


def _session_root(config: pytest.Config) -> Path | None:
    """The session's temporary root, if any test asked for a temporary folder."""
    factory = getattr(config, "_tmp_path_factory", None)
    root = getattr(factory, "_basetemp", None)
    return Path(root).resolve() if root is not None else None


def _settled_leftovers(root: Path) -> list[str]:
    import time

    deadline = time.monotonic() + LEAK_SETTLE_SECONDS
    while True:
        left = leakkit.leftovers(root)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(1.0)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture's teardown: the session's own Docker objects must be gone."""
    root = _session_root(session.config)
    if root is None:
        return
    try:
        left = _settled_leftovers(root)
    except Exception:  # noqa: BLE001 - no Docker engine: nothing can have leaked into it
        return
    if not left:
        return
    failed = leakkit.remove(left)
    session.config.stash[LEAKS] = (left, failed)
    # Docker 20.10 sometimes keeps a removed container's endpoint on a network for good (an
    # engine bug, kompy cluster reset says so): such a network alone does not fail the run.
    stuck = {problem.split(": ", 1)[0] for problem in failed if "active endpoints" in problem}
    if os.environ.get("KOMPY_TEST_LEAKS") != "report" and session.exitstatus == 0 and \
            set(left) - stuck:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    found = config.stash.get(LEAKS, None)
    if found is None:
        return
    left, failed = found
    terminalreporter.section(f"{len(left)} Docker objects this session left behind "
                             "(removed now)", sep="!", red=True, bold=True)
    for item in left:
        terminalreporter.line(f"  {item}", red=True)
    for problem in failed:
        terminalreporter.line(f"  could not remove {problem}", red=True)
    terminalreporter.line("Each test must remove what it made, even when it fails "
                          "(tests/leakkit.py).", bold=True)
