"""The store survives kill -9 of a writer at any moment: nothing half-written, nothing lost
that was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kompy.client.resources import lookup
from kompy.cluster.store.sqlite import Store

WRITER = r"""
import sys
from kompy.cluster.store.sqlite import Store
from kompy.client.resources import lookup
store = Store(sys.argv[1])
cms = lookup("configmaps")
i = 0
while True:
    obj = store.create(cms, {"kind": "ConfigMap", "apiVersion": "v1",
                             "metadata": {"name": f"c{i}", "namespace": "default"},
                             "data": {"payload": "x" * 2000}})
    obj["data"]["payload"] = "y" * 3000
    store.update(cms, obj)
    # Acknowledge only after the write returned: these must all survive the kill.
    print(i, flush=True)
    i += 1
"""


def test_kill_9_mid_stream_leaves_a_sound_store(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        acknowledged = -1
        deadline = time.monotonic() + 30
        # Kill at a different point each round, while writes are in flight.
        while acknowledged < 50 * (round_ + 1) and time.monotonic() < deadline:
            acknowledged = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = Store(db)
        assert store.check() == []
        items, rv = store.list(lookup("configmaps"))
        names = {i["metadata"]["name"] for i in items}
        assert all(f"c{i}" in names for i in range(acknowledged + 1)), \
            f"acknowledged write lost (round {round_}, acked {acknowledged}, have {len(names)})"
        assert rv >= len(items)
        store.close()
        # The next round's writer starts counting from 0 again: clear the table.
        cleanup = Store(db)
        for item in items:
            cleanup.delete(lookup("configmaps"), "default", item["metadata"]["name"])
        cleanup.close()


def test_kill_9_of_the_daemon_under_api_writes(tmp_path: Path, isolated_env: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from kompy.client.errors import ApiError
    from kompy.cluster.daemon import process as daemon
    from kompy.cluster.daemon.state import cluster_state
    from kompy.errors import ClusterError

    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KOMPY_CLUSTER_NO_RUNTIME", "1")
    client = daemon.ensure_cluster("durable")
    state = cluster_state("durable")
    acknowledged: list[str] = []
    for i in range(1000):
        if i == 200:
            os.kill(int(state.pid_file.read_text()), signal.SIGKILL)
        try:
            client.create({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": f"c{i}"}, "data": {"i": str(i)}})
        except (ClusterError, ApiError):
            break
        acknowledged.append(f"c{i}")
    store = Store(state.store)
    try:
        assert store.check() == []
        names = {o["metadata"]["name"] for o in store.list(lookup("configmaps"))[0]}
        assert set(acknowledged) <= names and len(acknowledged) >= 200
    finally:
        store.close()
    # The next command starts a new daemon on the same store.
    assert len(daemon.ensure_cluster("durable").list("configmaps")["items"]) >= 200
    daemon.stop("durable")
