"""Benchmark of the built-in cluster's runtime against docker-compose (Compose v1) and
against the Docker API itself.

1. Time from applying a 30-replica Deployment (kompy/busybox:1 running ``httpd -f``) to all
   pods ready, on a freshly started cluster of one node, and of three nodes.
2. The floor: the same 30 containers created and started straight through the Docker API
   (the SDK's low-level client, 8 threads, on a user-defined bridge made beforehand as
   kompy's namespace network is), in the same run.
3. ``docker-compose up -d --scale web=30`` of the same image and command, in the same run.
4. Scaling: 100 and 300 replicas on three nodes (110 pods each at most), beside the raw API
   at the same counts (``--scale``), to show the time grows linearly.
5. The daemon's CPU use while idle with the 30 pods running: its CPU time (utime + stime of
   the daemon process) over ``--idle-seconds``, as a percentage of one core.

The runs of a round rotate (which goes first changes every round), and each timed run
waits until the machine is quiet first: the numbers compare like with like on a shared,
noisy machine.

Writes benchmarks/results/runtime.json. Run: ``python3 benchmarks/bench_runtime.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
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


def wait_nodes(client: Any, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [n for n in client.list("nodes")["items"] if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (n.get("status") or {}).get("conditions") or [])]
        if len(ready) >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"{count} nodes not ready after {timeout} s")


def bench_kompy(idle_seconds: float | None, replicas: int = REPLICAS,
                nodes: int = 1) -> dict[str, Any]:
    from kompy.cluster.daemon import process as daemon
    from kompy.cluster.kubelet.node import ensure_nodes

    home = tempfile.mkdtemp(prefix="kompy-bench-")
    os.environ["KOMPY_HOME"] = home
    os.environ["KOMPY_INGRESS_PORTS"] = "off"
    name = f"bench{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        client = daemon.ensure_cluster(name)
        started = time.monotonic() - t0
        ensure_nodes(client, nodes)
        wait_nodes(client, nodes)
        # Warm the namespace network and informers with one pod-less apply round trip.
        client.get("namespaces", "default")
        pid = int(Path(home, name, "daemon.pid").read_text().strip())
        busy_before = settle()
        load = round(os.getloadavg()[0], 2)
        cpu0 = cpu_seconds(pid)
        t0 = time.monotonic()
        client.apply(deployment(replicas))
        # The engine alone took 1 s a container at load average 30: 300 s was too short.
        wait_ready(client, replicas, timeout=max(300, 3 * replicas))
        ready = time.monotonic() - t0
        apply_cpu = cpu_seconds(pid) - cpu0
        spread: dict[str, int] = {}
        for p in client.list("pods", "default")["items"]:
            node = str((p.get("spec") or {}).get("nodeName"))
            spread[node] = spread.get(node, 0) + 1
        out.update({"nodes": nodes, "replicas": replicas, "pods_per_node": spread,
                    "daemon_start_s": round(started, 2),
                    "apply_to_all_ready_s": round(ready, 2),
                    "daemon_cpu_s_during_apply": round(apply_cpu, 2),
                    "machine_busy_before": busy_before, "load_average": load})
        if idle_seconds:
            time.sleep(5)  # let the last status writes settle before measuring idle
            c0, w0 = cpu_seconds(pid), time.monotonic()
            time.sleep(idle_seconds)
            c1, w1 = cpu_seconds(pid), time.monotonic()
            out.update(idle_cpu_percent_of_one_core=round(100 * (c1 - c0) / (w1 - w0), 3),
                       idle_window_s=round(w1 - w0, 1), idle_cpu_seconds=round(c1 - c0, 3))
        return out
    finally:
        t0 = time.monotonic()
        _reset(daemon, name)
        if out:
            out["reset_s"] = round(time.monotonic() - t0, 2)  # stop the pods, remove all
        shutil.rmtree(home, ignore_errors=True)


def _reset(daemon: Any, name: str) -> None:
    """Remove the cluster; a daemon slow to stop hundreds of pods on a busy machine (over
    its 90 s) is asked again rather than losing the run's numbers."""
    from kompy.errors import ClusterError
    for attempt in range(3):
        try:
            daemon.reset(name)
            return
        except ClusterError as error:
            print(f"reset of {name}: {error.message}; again", file=sys.stderr)
            if attempt == 2:
                raise


@contextlib.contextmanager
def cluster_of(src: str | None) -> Iterator[Any]:
    """A client of a built-in cluster whose daemon runs the code at ``src`` (a baseline
    checkout) or this tree's, kept in a temporary home; the cluster is removed after and
    the environment and working directory restored. The daemon (a child process, ``python
    -m``) is named its code by PYTHONPATH and started away from any checkout, because
    ``-m`` puts the working directory ahead of PYTHONPATH (run from the repository's root,
    a baseline's daemon would run this tree's code)."""
    from kompy.cluster.daemon import process as daemon

    home = tempfile.mkdtemp(prefix="kompy-bench-")
    saved, cwd = dict(os.environ), os.getcwd()
    os.environ.update(KOMPY_HOME=home, KOMPY_INGRESS_PORTS="off",
                      PYTHONPATH=src or str(Path(__file__).resolve().parents[1]))
    os.chdir(home)
    name = f"bench{uuid.uuid4().hex[:6]}"
    try:
        yield daemon.ensure_cluster(name)
    finally:
        _reset(daemon, name)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)


def bench_raw(replicas: int = REPLICAS, threads: int = 8) -> dict[str, Any]:
    """The floor: ``replicas`` containers created and started through the Docker API with
    ``threads`` threads, on a user-defined bridge made beforehand (untimed), as kompy's
    namespace network is made before the pods."""
    from concurrent.futures import ThreadPoolExecutor

    import docker

    api = docker.from_env(timeout=300).api
    tag = f"rawbench{uuid.uuid4().hex[:6]}"
    api.create_network(tag, driver="bridge", labels={"kompy.bench": tag})
    ids: list[str] = []
    out: dict[str, Any] = {}

    def one(i: int) -> None:
        created = api.create_container(
            IMAGE, ["httpd", "-f"], name=f"{tag}_{i}", labels={"kompy.bench": tag},
            host_config=api.create_host_config(network_mode=tag))
        ids.append(created["Id"])
        api.start(created["Id"])

    try:
        busy_before = settle()
        load = round(os.getloadavg()[0], 2)
        t0 = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(replicas)))
        took = time.monotonic() - t0
        out.update({"replicas": replicas, "threads": threads,
                    "create_and_start_all_s": round(took, 2),
                    "machine_busy_before": busy_before, "load_average": load})
        return out
    finally:
        left = [c["Id"] for c in api.containers(all=True, filters={"label": f"kompy.bench={tag}"})]
        t0 = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda cid: api.remove_container(cid, force=True), left))
        if out:  # the floor of kompy's reset: the same containers force-removed, 8 threads
            out["remove_all_s"] = round(time.monotonic() - t0, 2)
        for _ in range(30):  # the engine releases the endpoints a moment after the removals
            try:
                api.remove_network(tag)
                break
            except docker.errors.APIError:
                time.sleep(1)


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
        load = round(os.getloadavg()[0], 2)
        t0 = time.monotonic()
        subprocess.run([*cmd, "up", "-d", "--scale", f"web={REPLICAS}"], check=True,
                       capture_output=True)
        up = time.monotonic() - t0
        running = subprocess.run(["docker", "ps", "-q", "--filter",
                                  f"label=com.docker.compose.project={project}"],
                                 check=True, capture_output=True, text=True).stdout.split()
        return {"up_scale_s": round(up, 2), "containers_running": len(running),
                "machine_busy_before": busy_before, "load_average": load,
                "version": subprocess.run([exe, "version", "--short"], capture_output=True,
                                          text=True).stdout.strip()}
    finally:
        subprocess.run([*cmd, "down", "-t", "1"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def median_of(rounds: list[dict[str, Any]], run: str, key: str) -> float | None:
    values = [r[run].get(key) for r in rounds if isinstance(r.get(run), dict)]
    numbers = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(numbers) if numbers else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=45.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rotate the 30-replica runs (kompy on 1 and 3 nodes, the raw "
                             "Docker API, docker-compose) this many times (the machine is "
                             "shared and noisy: compare the rounds, and the medians)")
    parser.add_argument("--scale", type=int, nargs="*", default=[100, 300],
                        help="replica counts of the scaling runs (kompy on 3 nodes and the "
                             "raw API, once each)")
    args = parser.parse_args()
    if args.rounds == 0:  # the scaling runs only, added to the last results
        import json
        return scale(json.loads(RESULTS.read_text()), args.scale)
    runs: dict[str, Any] = {
        "kompy": lambda idle: bench_kompy(idle, REPLICAS, 1),
        "kompy_3_nodes": lambda idle: bench_kompy(None, REPLICAS, 3),
        "docker_api_8_threads": lambda idle: bench_raw(REPLICAS),
        "docker_compose": lambda idle: bench_compose()}
    order = list(runs)
    rounds: list[dict[str, Any]] = []
    for i in range(args.rounds):
        last = i == args.rounds - 1
        rotated = order[i % len(order):] + order[:i % len(order)]
        entry: dict[str, Any] = {"load_average": round(os.getloadavg()[0], 2),
                                 "order": rotated}
        for run in rotated:  # rotate, so none always follows another's clean-up
            entry[run] = runs[run](args.idle_seconds if last else None)
        rounds.append(entry)
    floor = median_of(rounds, "docker_api_8_threads", "create_and_start_all_s")
    result: dict[str, Any] = {"replicas": REPLICAS, "image": IMAGE, "machine": machine(),
                              "rounds": rounds}
    for run, key in (("kompy", "apply_to_all_ready_s"),
                     ("kompy_3_nodes", "apply_to_all_ready_s"),
                     ("docker_api_8_threads", "create_and_start_all_s"),
                     ("docker_compose", "up_scale_s")):
        value = median_of(rounds, run, key)
        result[f"{run}_median_s"] = value
        if floor and value and run != "docker_api_8_threads":
            result[f"{run}_vs_docker_api_ratio"] = round(value / floor, 2)
    result["idle"] = {k: v for k, v in rounds[-1]["kompy"].items() if k.startswith("idle")}
    save(RESULTS, result)  # the rounds are kept even if a scaling run fails
    return scale(result, args.scale)


def scale(result: dict[str, Any], counts: list[int]) -> int:
    """Run the scaling points ``counts``, replacing those of the same counts in ``result``
    (``--rounds 0 --scale 300`` measures again the one point that failed)."""
    scaling: list[dict[str, Any]] = [p for p in result.get("scaling") or []
                                     if p.get("replicas") not in counts]
    result["scaling"] = scaling
    for count in counts:
        point: dict[str, Any] = {"replicas": count, "load_average": round(os.getloadavg()[0], 2)}
        point["docker_api_8_threads"] = bench_raw(count)
        point["kompy_3_nodes"] = bench_kompy(None, count, 3)
        point["kompy_per_replica_s"] = round(
            point["kompy_3_nodes"]["apply_to_all_ready_s"] / count, 3)
        point["docker_api_per_replica_s"] = round(
            point["docker_api_8_threads"]["create_and_start_all_s"] / count, 3)
        point["kompy_3_nodes_vs_docker_api_ratio"] = round(
            point["kompy_per_replica_s"] / point["docker_api_per_replica_s"], 2)
        scaling.append(point)
        scaling.sort(key=lambda p: int(p["replicas"]))
        save(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
