"""Benchmark of the built-in cluster's runtime against docker-compose (Compose v1).

1. Time from applying a 30-replica Deployment (kompy/busybox:1 running ``httpd -f``) to all
   pods ready, on a freshly started cluster.
2. ``docker-compose up -d --scale web=30`` of the same image and command, in the same run.
3. The daemon's CPU use while idle with the 30 pods running: its CPU time (utime + stime of
   the daemon process) over ``--idle-seconds``, as a percentage of one core.

The two alternate (which goes first changes every round), and each timed run waits until
the machine is quiet first: the numbers compare like with like on a shared, noisy machine.

Writes benchmarks/results/runtime.json. Run: ``python3 benchmarks/bench_runtime.py``.
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

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

REPLICAS = 30
IMAGE = "kompy/busybox:1"
RESULTS = Path(__file__).resolve().parent / "results" / "runtime.json"


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "web", "image": IMAGE,
                                         "command": ["httpd", "-f"]}]}}}}


def wait_ready(client: Any, replicas: int, timeout: int = 300) -> None:
    """Follow the Deployment with a watch: no polling delay, and no stream of GETs costing
    the daemon CPU while it starts the pods (a 50 ms poll made ~100 requests per run)."""
    status: dict[str, Any] = {}
    for _kind, obj in client.watch("deployments", "default", field_selector="metadata.name=web",
                                   timeout_seconds=timeout):
        status = obj.get("status") or {}
        if status.get("readyReplicas") == replicas:
            return
    raise SystemExit(f"deployment not ready after {timeout} s: {status}")


def settle(max_wait: float = 30.0, busy_below: float = 0.25) -> float:
    """Wait until the machine is quiet (less than ``busy_below`` of all cores busy over half
    a second), at most ``max_wait`` s: the previous run's clean-up (Docker removes containers
    and network namespaces in the background) must not be billed to the next run.
    Returns the busy fraction last seen."""
    deadline = time.monotonic() + max_wait
    while True:
        before = _cpu_times()
        time.sleep(0.5)
        after = _cpu_times()
        total = after[0] - before[0]
        busy = 1.0 - (after[1] - before[1]) / total if total else 0.0
        if busy < busy_below or time.monotonic() > deadline:
            return round(busy, 2)


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # all, idle + iowait


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def bench_kompy(idle_seconds: float | None) -> dict[str, Any]:
    from kompy.cluster.daemon import process as daemon

    home = tempfile.mkdtemp(prefix="kompy-bench-")
    os.environ["KOMPY_HOME"] = home
    name = f"bench{uuid.uuid4().hex[:6]}"
    try:
        t0 = time.monotonic()
        client = daemon.ensure_cluster(name)
        started = time.monotonic() - t0
        # Warm the namespace network and informers with one pod-less apply round trip.
        client.get("namespaces", "default")
        pid = int(Path(home, name, "daemon.pid").read_text().strip())
        busy_before = settle()
        cpu0 = cpu_seconds(pid)
        t0 = time.monotonic()
        client.apply(deployment(REPLICAS))
        wait_ready(client, REPLICAS)
        ready = time.monotonic() - t0
        apply_cpu = cpu_seconds(pid) - cpu0
        out: dict[str, Any] = {"daemon_start_s": round(started, 2),
                               "apply_to_all_ready_s": round(ready, 2),
                               "daemon_cpu_s_during_apply": round(apply_cpu, 2),
                               "machine_busy_before": busy_before}
        if idle_seconds:
            time.sleep(5)  # let the last status writes settle before measuring idle
            c0, w0 = cpu_seconds(pid), time.monotonic()
            time.sleep(idle_seconds)
            c1, w1 = cpu_seconds(pid), time.monotonic()
            out.update(idle_cpu_percent_of_one_core=round(100 * (c1 - c0) / (w1 - w0), 3),
                       idle_window_s=round(w1 - w0, 1), idle_cpu_seconds=round(c1 - c0, 3))
        return out
    finally:
        daemon.reset(name)
        shutil.rmtree(home, ignore_errors=True)


def bench_compose() -> dict[str, Any]:
    exe = shutil.which("docker-compose")
    if exe is None:
        return {"skipped": "docker-compose not installed"}
    folder = Path(tempfile.mkdtemp(prefix="compose-bench-"))
    (folder / "docker-compose.yml").write_text(
        f'version: "2.4"\nservices:\n  web:\n    image: {IMAGE}\n    command: ["httpd", "-f"]\n')
    project = f"bench{uuid.uuid4().hex[:6]}"
    cmd = [exe, "-p", project, "-f", str(folder / "docker-compose.yml")]
    try:
        busy_before = settle()
        t0 = time.monotonic()
        subprocess.run([*cmd, "up", "-d", "--scale", f"web={REPLICAS}"], check=True,
                       capture_output=True)
        up = time.monotonic() - t0
        running = subprocess.run(["docker", "ps", "-q", "--filter",
                                  f"label=com.docker.compose.project={project}"],
                                 check=True, capture_output=True, text=True).stdout.split()
        return {"up_scale_s": round(up, 2), "containers_running": len(running),
                "machine_busy_before": busy_before,
                "version": subprocess.run([exe, "version", "--short"], capture_output=True,
                                          text=True).stdout.strip()}
    finally:
        subprocess.run([*cmd, "down", "-t", "1"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=45.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate kompy and docker-compose this many times (the machine "
                             "is shared and noisy: compare the rounds, and the medians)")
    args = parser.parse_args()
    rounds: list[dict[str, Any]] = []
    for i in range(args.rounds):
        last = i == args.rounds - 1
        entry: dict[str, Any] = {"load_average": os.getloadavg()[0],
                                 "first": "kompy" if i % 2 == 0 else "docker_compose"}
        # Alternate which goes first, so neither always follows the other's clean-up.
        if i % 2:
            entry["docker_compose"] = bench_compose()
        entry["kompy"] = bench_kompy(args.idle_seconds if last else None)
        if not i % 2:
            entry["docker_compose"] = bench_compose()
        rounds.append(entry)
    kompy_times = [r["kompy"]["apply_to_all_ready_s"] for r in rounds]
    compose_times = [r["docker_compose"].get("up_scale_s") for r in rounds]
    result: dict[str, Any] = {"replicas": REPLICAS, "image": IMAGE, "machine": machine(),
                              "rounds": rounds,
                              "kompy_apply_to_all_ready_s_median": statistics.median(kompy_times)}
    if all(t is not None for t in compose_times):
        median = statistics.median(t for t in compose_times if t is not None)
        result["docker_compose_up_scale_s_median"] = median
        result["kompy_vs_compose_speedup_median"] = round(
            median / result["kompy_apply_to_all_ready_s_median"], 2)
    result["idle"] = {k: v for k, v in rounds[-1]["kompy"].items() if k.startswith("idle")}
    save(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
