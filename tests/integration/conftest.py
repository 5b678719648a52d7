"""Fixtures shared by the integration tests: local registries (Debian's docker-registry)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registrykit import REGISTRY_USER, Registry, available  # noqa: E402


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open registry on 127.0.0.1 for the session."""
    if not available():
        pytest.skip("docker-registry is not installed (tests/run.sh installs it)")
    found = Registry(tmp_path_factory.mktemp("registry")).start()
    yield found
    found.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry that wants a user and password (htpasswd) for every request."""
    if not available():
        pytest.skip("docker-registry is not installed (tests/run.sh installs it)")
    found = Registry(tmp_path_factory.mktemp("auth-registry"),
                     users=dict([REGISTRY_USER])).start()
    yield found
    found.stop()
