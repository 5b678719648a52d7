"""Benchmark: ``kompy dev``'s restart in place (the pod annotation
``kompy.dev/restart-requested-at``) on the built-in cluster, this tree's daemon against a
baseline's, side by side in the same run.

1. ``obedient``: a pod whose process exits on SIGTERM; the time from the annotation's patch
   until the same container is running again (its StartedAt changed), as ``kompy dev``'s
   ``sync+restart`` waits for it. The kubelet used one blocking ``docker restart``; it now
   kills through its stopper and starts the container again in the pod's next sync.
2. ``deaf``: eight pods whose process ignores SIGTERM (``exec sleep``) restarted in place at
   once (10 s grace each), then a new pod created: the time from its create until it is
   Running. A blocking restart held each of the kubelet's eight sync workers for the grace
   period, so the new pod waited for them.

Each round starts a fresh cluster per side (the order alternates), waits for a quiet
machine before each timed step and notes the load average. Writes
benchmarks/results/restart_in_place.json.
Run: ``python3 benchmarks/bench_restart_in_place.py --baseline-src DIR`` (DIR: a tree of the
old code's ``kompy`` package, e.g. from ``git archive``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import docker
from bench_runtime import cluster_of, settle
from machine import machine, save
from waiting import wait_for

IMAGE = "kompy/busybox:1"
RESULTS = Path(__file__).resolve().parent / "results" / "restart_in_place.json"
ANNOTATION = "kompy.dev/restart-requested-at"
DEAF = 8


def pod(name: str, command: str, grace: int = 10) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": grace, "containers": [
                {"name": "c", "image": IMAGE, "command": ["sh", "-c", command]}]}}


def phase(client: Any, name: str) -> str:
    return str((client.get("pods", name, "default").get("status") or {}).get("phase") or "")


def container_id(client: Any, name: str) -> str:
    status = client.get("pods", name, "default")["status"]["containerStatuses"][0]
    return str(status["containerID"]).removeprefix("docker://")


def request(client: Any, name: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client.patch("pods", name, "default", {"metadata": {"annotations": {ANNOTATION: stamp}}})


def restarted(engine: Any, cid: str, before: str, timeout: float = 60.0) -> float:
    """Seconds until the container runs again with a new StartedAt (looked at every 10 ms)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        state = engine.api.inspect_container(cid)["State"]
        if state["Running"] and state["StartedAt"] != before:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise SystemExit(f"container {cid[:12]} never started again")


def obedient(client: Any, engine: Any, rounds: int) -> list[float]:
    client.create(pod("obedient", "trap 'exit 0' TERM; while true; do sleep 0.1; done"))
    wait_for("obedient Running", lambda: phase(client, "obedient") == "Running", 120)
    cid = container_id(client, "obedient")
    out = []
    for _ in range(rounds):
        settle()
        before = engine.api.inspect_container(cid)["State"]["StartedAt"]
        request(client, "obedient")
        out.append(round(restarted(engine, cid, before), 3))
    return out


def deaf(client: Any) -> float:
    for i in range(DEAF):
        client.create(pod(f"deaf-{i}", "exec sleep 3600"))
    wait_for("the deaf pods Running", lambda: all(
        phase(client, f"deaf-{i}") == "Running" for i in range(DEAF)), 300)
    settle()
    for i in range(DEAF):
        request(client, f"deaf-{i}")
    t0 = time.monotonic()
    client.create(pod("plain", "exec sleep 3600"))
    while phase(client, "plain") != "Running":
        if time.monotonic() - t0 > 120:
            raise SystemExit("the new pod never ran")
        time.sleep(0.02)
    return round(time.monotonic() - t0, 3)


def bench(src: str | None, rounds: int) -> dict[str, Any]:
    with contextlib.closing(docker.from_env()) as engine, cluster_of(src) as client:
        load = round(os.getloadavg()[0], 2)
        restarts = obedient(client, engine, rounds)
        return {"obedient_restart_s": restarts, "deaf_then_new_pod_running_s": deaf(client),
                "load_average": load, "load_average_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2, help="clusters per side")
    parser.add_argument("--restarts", type=int, default=5, help="obedient restarts a cluster")
    parser.add_argument("--baseline-src", required=True)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"kompy": [], "kompy_baseline": []}
    for round_ in range(args.rounds):
        order = ["kompy", "kompy_baseline"] if round_ % 2 == 0 else ["kompy_baseline", "kompy"]
        for kind in order:
            result = bench(args.baseline_src if kind == "kompy_baseline" else None,
                           args.restarts)
            print(kind, result, file=sys.stderr)
            runs[kind].append(result)
    summary = {kind: {
        "obedient_restart_median_s": statistics.median(
            [v for r in results for v in r["obedient_restart_s"]]),
        "deaf_then_new_pod_running_s": [r["deaf_then_new_pod_running_s"] for r in results],
        "load_averages": [r["load_average"] for r in results]} for kind, results in runs.items()}
    save(RESULTS, {"machine": machine(), "baseline_src": args.baseline_src,
                   "summary": summary, "runs": runs})
    print(summary, file=sys.stderr)


if __name__ == "__main__":
    main()
