"""Benchmark: the CPU of the kubelet's periodic status sweep (kubelet/statuses.py).

Upstream's status manager compares every pod's status with the kubelet's every 10 s
(syncBatch); kompy's kubelet does the same sweep. It must cost next to nothing when nothing
differs. The whole runtime (API server, controllers, kubelet) runs in this process on the
in-memory container backend, with ``--pods`` pods Running; then the sweep (``Kubelet.
sweep_statuses``) is timed in thread CPU time, ``--sweeps`` times: with every status the
kubelet's own, and with ``--overwritten`` pods' status changed by another writer (the
sweep then compares those field by field and queues them; their repair is not timed).
Writes benchmarks/results/status_sweep.json.
Run: ``python3 benchmarks/bench_status_sweep.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from machine import machine, save
from waiting import wait_for

from kompy.client import KubeClient
from kompy.client.loopback import attach
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.daemon.runtime import start_runtime
from kompy.cluster.kubelet.fake import FakeBackend
from kompy.cluster.store.sqlite import Store

RESULTS = Path(__file__).resolve().parent / "results" / "status_sweep.json"


def cpu_per_sweep(kubelet: Any, sweeps: int) -> list[float]:
    """Thread CPU microseconds of each sweep."""
    out = []
    for _ in range(sweeps):
        began = time.thread_time_ns()
        kubelet.sweep_statuses()
        out.append((time.thread_time_ns() - began) / 1000)
    return out


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_us": round(statistics.median(ordered), 1),
            "p95_us": round(ordered[int(len(ordered) * 0.95) - 1], 1),
            "cpu_share_at_10s_period": round(statistics.median(ordered) / 10e6, 9)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--sweeps", type=int, default=2000)
    parser.add_argument("--overwritten", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kompy-sweep-"))
    server = ApiServer(Store(folder / "store.db"), "token").start()
    client = attach(KubeClient.for_server(server.url, "token"), server.router)
    stop = threading.Event()
    runtime = start_runtime(client, folder / "state", "fake", stop, backoff_base=0.2,
                            backend=FakeBackend(folder / "engine"),
                            dns_address=("127.0.0.1", 0))
    try:
        for i in range(args.pods):
            client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                           "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}})
        wait_for(f"{args.pods} pods Running", lambda: sum(
            (p.get("status") or {}).get("phase") == "Running"
            for p in client.list("pods", "default")["items"]) == args.pods, 300)
        kubelet = runtime.kubelet
        wait_for("every status recorded", lambda: kubelet.sweep_statuses() == [], 30)
        load = round(os.getloadavg()[0], 2)
        same = cpu_per_sweep(kubelet, args.sweeps)
        # The repairs would race the timing: the finding alone is timed, nothing queued.
        kubelet.queue.add = lambda key: None  # type: ignore[method-assign]
        kubelet.queue.add_after = lambda key, delay: None  # type: ignore[method-assign]
        for i in range(args.overwritten):
            client.patch("pods", f"p{i}", "default", {"status": {"phase": "Failed"}},
                         subresource="status")
        wait_for("the overwrites seen", lambda: len(kubelet.sweep_statuses()) ==
                 args.overwritten, 30)
        differing = cpu_per_sweep(kubelet, args.sweeps)
        save(RESULTS, {"machine": machine(), "pods": args.pods, "sweeps": args.sweeps,
                       "load_average": load,
                       "load_average_after": round(os.getloadavg()[0], 2),
                       "nothing_differs": summary(same),
                       f"{args.overwritten}_overwritten": summary(differing)})
    finally:
        stop.set()
        runtime.join(5)
        server.stop()


if __name__ == "__main__":
    main()
