"""Benchmark: deleting many pods whose process ignores SIGTERM, against Compose's stop.

``exec sleep`` as PID 1 ignores SIGTERM, so each container waits out its whole grace period
before SIGKILL. Upstream's kubelet stops each pod in its own pod worker, so N such pods
deleted at once are gone in about one grace period; kompy's kubelet made one blocking Docker
stop call per container on its eight threads (N / 8 grace periods) until the stopper
(kompy/cluster/kubelet/shutdown.py) took the deletions over.

1. kompy: ``--pods`` pods (grace ``--grace`` s) on a fresh cluster, all running; then every
   pod deleted (one DELETE each, as ``kubectl delete pods --all`` sends them) and the time
   until the API lists none, containers stopped and removed.
2. The same with a baseline source tree (``--baseline-src``, e.g. a worktree of an older
   commit) for the daemon: the old code side by side in the same run.
3. The peer: ``docker-compose stop -t GRACE`` of ``--scale web=PODS`` containers running the
   same command (Compose v1 stops them in parallel).

Runs rotate across ``--rounds``; each timed step waits for a quiet machine first and notes
the load average. Writes benchmarks/results/termination.json.
Run: ``python3 benchmarks/bench_termination.py [--baseline-src DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench_runtime import cluster_of, settle
from machine import machine, save
from waiting import wait_for

IMAGE = "kompy/busybox:1"
RESULTS = Path(__file__).resolve().parent / "results" / "termination.json"


def deaf_pod(name: str, grace: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": grace, "containers": [
                {"name": "c", "image": IMAGE, "command": ["sh", "-c", "exec sleep 3600"]}]}}


def running_count(client: Any) -> int:
    return sum(1 for p in client.list("pods", "default")["items"]
               if (p.get("status") or {}).get("phase") == "Running")


def bench_kompy(pods: int, grace: int, src: str | None) -> dict[str, Any]:
    with cluster_of(src) as client:
        for i in range(pods):
            client.create(deaf_pod(f"deaf-{i}", grace))
        wait_for(f"{pods} pods running", lambda: running_count(client) == pods, 600)
        busy_before = settle()
        load = round(os.getloadavg()[0], 2)
        t0 = time.monotonic()
        for i in range(pods):
            client.delete("pods", f"deaf-{i}", "default")
        wait_for("every pod gone", lambda: not client.list("pods", "default")["items"], 600)
        took = time.monotonic() - t0
        return {"delete_all_s": round(took, 2), "machine_busy_before": busy_before,
                "load_average": load}


def bench_compose(pods: int, grace: int) -> dict[str, Any]:
    exe = shutil.which("docker-compose")
    if exe is None:
        return {"skipped": "docker-compose not installed"}
    folder = Path(tempfile.mkdtemp(prefix="compose-bench-"))
    (folder / "docker-compose.yml").write_text(
        f'version: "2.4"\nservices:\n  web:\n    image: {IMAGE}\n'
        '    command: ["sh", "-c", "exec sleep 3600"]\n')
    cmd = [exe, "-p", f"bench{uuid.uuid4().hex[:6]}", "-f", str(folder / "docker-compose.yml")]
    try:
        subprocess.run([*cmd, "up", "-d", "--scale", f"web={pods}"], check=True,
                       capture_output=True)
        busy_before = settle()
        load = round(os.getloadavg()[0], 2)
        t0 = time.monotonic()
        subprocess.run([*cmd, "stop", "-t", str(grace)], check=True, capture_output=True)
        return {"stop_all_s": round(time.monotonic() - t0, 2),
                "machine_busy_before": busy_before, "load_average": load}
    finally:
        subprocess.run([*cmd, "down", "-t", "0"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=60)
    parser.add_argument("--grace", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-src", help="a source tree whose daemon is the baseline")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"kompy": [], "compose_stop": []}
    if args.baseline_src:
        runs["kompy_baseline"] = []
    order = list(runs)
    for round_ in range(args.rounds):
        for kind in order[round_ % len(order):] + order[:round_ % len(order)]:
            if kind == "compose_stop":
                result = bench_compose(args.pods, args.grace)
            else:
                src = args.baseline_src if kind == "kompy_baseline" else None
                result = bench_kompy(args.pods, args.grace, src)
            print(kind, result, file=sys.stderr)
            runs[kind].append(result)
    summary = {}
    for kind, results in runs.items():
        key = "stop_all_s" if kind == "compose_stop" else "delete_all_s"
        values = [r[key] for r in results if key in r]
        if values:
            summary[kind] = {"median_s": statistics.median(values), "runs_s": values}
    save(RESULTS, {"machine": machine(), "pods": args.pods, "grace_s": args.grace,
                   "baseline_src": args.baseline_src, "summary": summary, "runs": runs})


if __name__ == "__main__":
    main()
