"""Benchmark: how long an unrelated pod waits behind pods whose postStart hook runs long.

Upstream's kubelet runs a postStart hook in the pod's own worker, so other pods never wait
for it. kompy's kubelet ran the hook on one of its eight sync workers until the hook got a
thread of its own (kompy/cluster/kubelet/podworker.py): ten pods with a 30 s hook held every
worker, and an eleventh pod queued behind them.

A fresh cluster per run: ``--hooked`` pods whose container has a postStart ``sleep`` hook of
``--hook`` seconds are created, then one plain pod; the time from that pod's create until it
is Running and ready. With ``--baseline-src`` (a source tree of an older commit) its daemon
runs the same, alternately with this tree's, in the same run. No peer: Compose v1 has no
post_start. Writes benchmarks/results/post_start.json.
Run: ``python3 benchmarks/bench_post_start.py [--baseline-src DIR]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_runtime import cluster_of, settle
from machine import machine, save
from waiting import wait_for

IMAGE = "kompy/busybox:1"
RESULTS = Path(__file__).resolve().parent / "results" / "post_start.json"


def a_pod(name: str, hook_seconds: int | None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": IMAGE,
                                 "command": ["sh", "-c", "exec sleep 3600"]}
    if hook_seconds is not None:
        container["lifecycle"] = {"postStart": {"sleep": {"seconds": hook_seconds}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]}}


def ready(client: Any, name: str) -> bool:
    status = client.get("pods", name, "default").get("status") or {}
    return status.get("phase") == "Running" and all(
        c.get("ready") for c in status.get("containerStatuses") or [{}])


def started(client: Any) -> int:
    """How many hooked pods' containers were started (their hook runs or ran)."""
    return sum(1 for e in client.list("events", "default")["items"]
               if e.get("reason") == "Started"
               and e["involvedObject"]["name"].startswith("hooked-"))


def bench_kompy(hooked: int, hook_seconds: int, src: str | None) -> dict[str, Any]:
    with cluster_of(src) as client:
        # A fresh cluster holds every pod's start until the kubernetes Service is served:
        # a first pod waits that out, so the hooked pods start in the order created.
        client.create(a_pod("warm", None))
        wait_for("the first pod ready", lambda: ready(client, "warm"), 120)
        busy_before = settle()
        load = round(os.getloadavg()[0], 2)
        for i in range(hooked):
            client.create(a_pod(f"hooked-{i}", hook_seconds))
        # Their hooks run (each pod's container Started; the old kubelet starts at most
        # eight: the workers the hooks hold), then the unrelated pod is created.
        wait_for("the hooked containers started", lambda: started(client) >= min(hooked, 8),
                   120)
        t0 = time.monotonic()
        client.create(a_pod("plain", None))
        wait_for("the plain pod ready", lambda: ready(client, "plain"), 10 * hook_seconds + 120)
        return {"plain_ready_s": round(time.monotonic() - t0, 2),
                "hooked_started_at_end": started(client),
                "machine_busy_before": busy_before, "load_average": load,
                "load_average_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hooked", type=int, default=10)
    parser.add_argument("--hook", type=int, default=30, help="the hooks' sleep, seconds")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-src", help="a source tree whose daemon is the baseline")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"kompy": []}
    if args.baseline_src:
        runs["kompy_baseline"] = []
    order = list(runs)
    for round_ in range(args.rounds):
        for kind in order[round_ % len(order):] + order[:round_ % len(order)]:
            src = args.baseline_src if kind == "kompy_baseline" else None
            result = bench_kompy(args.hooked, args.hook, src)
            print(kind, result, file=sys.stderr)
            runs[kind].append(result)
    summary = {kind: {"median_s": statistics.median(r["plain_ready_s"] for r in results),
                      "runs_s": [r["plain_ready_s"] for r in results]}
               for kind, results in runs.items() if results}
    save(RESULTS, {"machine": machine(), "hooked_pods": args.hooked,
                   "hook_s": args.hook, "baseline_src": args.baseline_src,
                   "summary": summary, "runs": runs})


if __name__ == "__main__":
    main()
