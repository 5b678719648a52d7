"""A built-in cluster for the runtime's integration tests: one daemon per test session.

The cluster has a unique name and its state folder lives in a temp dir; at the end every
Docker object labelled with that cluster name is removed (``daemon.reset``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The tests import their helpers (clusterkit.py beside this file); --import-mode=importlib
# does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusterkit import docker_ok  # noqa: E402


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon

    home = tmp_path_factory.mktemp("kompy-home")
    name = f"t{uuid.uuid4().hex[:8]}"
    old = os.environ.get("KOMPY_HOME")
    os.environ["KOMPY_HOME"] = str(home)
    try:
        client = daemon.ensure_cluster(name)
        yield {"client": client, "name": name, "home": Path(home), "dir": Path(home) / name}
    finally:
        # Keep the daemon's log beside the (removed) state folder, for post-mortems.
        log_file = Path(home) / name / "daemon.log"
        if log_file.exists():
            shutil.copy(log_file, Path(home) / f"daemon-{name}.log")
        try:
            daemon.reset(name)
        finally:
            if old is None:
                os.environ.pop("KOMPY_HOME", None)
            else:
                os.environ["KOMPY_HOME"] = old


@pytest.fixture
def client(cluster: dict[str, Any]) -> Any:
    return cluster["client"]


@pytest.fixture
def namespace(client: Any) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    ns = f"n{uuid.uuid4().hex[:8]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    yield ns
    with contextlib.suppress(Exception):  # best effort; reset removes everything at the end
        client.delete("namespaces", ns)
