"""API server latency and throughput: create, get, list, watch delivery.

Runs a real daemon (API only, no Docker runtime) in a temporary KOMPY_HOME and talks to it
over HTTP from this process, as kompy's CLI and controllers do:

    python benchmarks/bench_api.py [--objects 1000] [--threads 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"bench": "yes", "n": name[-1]}},
            "data": {"key": "x" * 200}}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def report(what: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{what:<34} n={len(samples):<5} median {statistics.median(samples):6.2f} ms   "
          f"p95 {p95:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    os.environ["KOMPY_HOME"] = tempfile.mkdtemp(prefix="kompy-bench-")
    os.environ["KOMPY_CLUSTER_NO_RUNTIME"] = "1"
    from kompy.cluster.daemon import process as daemon

    started = time.perf_counter()
    client = daemon.ensure_cluster("bench")
    print(f"daemon start until /healthz answers: {(time.perf_counter() - started) * 1000:.0f} ms")
    try:
        run(client, args.objects, args.threads)
    finally:
        daemon.reset("bench")


def run(client: Any, objects: int, threads: int) -> None:
    from kompy.client import KubeClient

    def each(fn: Callable[[int], object], count: int) -> list[float]:
        return [timed(lambda: fn(i)) for i in range(count)]  # noqa: B023 - called at once

    report("create (sequential)", each(lambda i: client.create(cm(f"seq-{i}")), objects))
    report("get", each(lambda i: client.get("configmaps", f"seq-{i}"), objects))
    report("merge patch", each(lambda i: client.patch("configmaps", f"seq-{i}", None,
                                                      {"data": {"k2": str(i)}}),
                               min(objects, 300)))
    report(f"list {objects} objects", [timed(lambda: client.list("configmaps"))
                                       for _ in range(20)])
    report("list with label selector (1/10)", [timed(lambda: client.list(
        "configmaps", label_selector="n=7")) for _ in range(20)])

    # Throughput: several clients (one keep-alive connection each) creating at once.
    clients = [KubeClient(client.conn) for _ in range(threads)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: clients[i % threads].create(cm(f"par-{i}")), range(objects)))
    elapsed = time.perf_counter() - start
    print(f"create throughput, {threads} clients:       {objects / elapsed:7.0f} objects/s")

    # Watch delivery: time from a create returning... to the watcher seeing the event.
    rv = client.list("configmaps")["metadata"]["resourceVersion"]
    seen: dict[str, float] = {}
    done = threading.Event()
    total = 200

    def watch() -> None:
        for _kind, obj in KubeClient(client.conn).watch("configmaps", resource_version=rv):
            seen[obj["metadata"]["name"]] = time.perf_counter()
            if len(seen) >= total:
                done.set()
                return
    threading.Thread(target=watch, daemon=True).start()
    sent: dict[str, float] = {}
    for i in range(total):
        name = f"w-{i}"
        sent[name] = time.perf_counter()
        client.create(cm(name))
        time.sleep(0.002)
    done.wait(30)
    report("watch delivery (write -> event)", [(seen[n] - sent[n]) * 1000 for n in seen])


if __name__ == "__main__":
    main()
