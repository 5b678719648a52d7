"""The store survives kill -9 of a writer at any moment: nothing half-written, nothing lost
that was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kompy.client.resources import lookup
from kompy.cluster.store import Store

WRITER = r"""
import sys
from kompy.cluster.store import Store
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
