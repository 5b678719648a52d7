"""Benchmark: the scheduler's CPU time to place 300 pods on 3 nodes, this tree beside a
baseline commit, in the same run.

Each round runs two child processes one after the other (their order alternates), each
with its own store, API server and scheduler (in-process, over the loopback client; no
kubelet: the nodes are Node objects, so nothing but the scheduler writes pods). The child
creates the nodes and ``--pods`` pods of one owner (so the default topology spread applies),
then starts the informers and the scheduler and waits until every pod is bound. It reports
the CPU time of the scheduler's thread (the decisions plus its API calls, which the
loopback serves in the same thread), of its API calls alone, and of the pods informer's
thread (where the new cache is kept up to date from the watch).

The baseline is ``--baseline`` (default: main's merge base), and "this" ``--this`` (default:
the working tree), each unpacked from git in a temporary folder (see paired.py).

Writes benchmarks/results/scheduler.json. Run:
``nice python3 benchmarks/bench_scheduler.py --rounds 5``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scheduler.json"


def thread_cpu(name: str) -> float:
    """CPU seconds the live thread called ``name`` has used."""
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    raise LookupError(name)


class TimedClient:
    """The scheduler's client, counting the CPU its calls take in the scheduler's thread."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.cpu = 0.0

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._client, attr)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name != "scheduler":
                return target(*args, **kwargs)  # the event recorder's own thread
            start = time.thread_time()
            try:
                return target(*args, **kwargs)
            finally:
                self.cpu += time.thread_time() - start
        return timed


def child(pods: int, nodes: int) -> dict[str, Any]:
    import kompy
    from kompy.client import KubeClient
    from kompy.client.events import EventRecorder
    from kompy.client.informer import Informers
    from kompy.client.loopback import attach
    from kompy.cluster.apiserver.server import ApiServer
    from kompy.cluster.scheduler.scheduler import Scheduler
    from kompy.cluster.store.sqlite import Store

    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Store(Path(tmp) / "store.db"), "token").start()
        client = attach(KubeClient.for_server(server.url, "token"), server.router)
        try:
            for i in range(nodes):
                name = "kompy" if i == 0 else f"kompy-m{i + 1:02d}"
                made = client.create({"apiVersion": "v1", "kind": "Node", "metadata": {
                    "name": name, "labels": {"kubernetes.io/hostname": name}}})
                client.replace_status({**made, "status": {"allocatable": {
                    "cpu": "64", "memory": "256Gi", "pods": "110"}}})
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                     "uid": "0f6c1b8e-0000-4000-8000-000000000001", "controller": True}
            for i in range(pods):
                client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
                    "name": f"web-{i:04d}", "namespace": "default",
                    "labels": {"app": "web"}, "ownerReferences": [owner]},
                    "spec": {"containers": [{"name": "web", "image": "kompy/busybox:1",
                                             "resources": {"requests": {
                                                 "cpu": "10m", "memory": "16Mi"}}}]}})
            stop = threading.Event()
            informers = Informers(client, stop)
            timed = TimedClient(client)
            as_client: Any = timed     # stands in for the KubeClient it wraps
            scheduler = Scheduler(as_client, informers,
                                  EventRecorder(as_client, "default-scheduler"))
            started = time.monotonic()
            informers.start()
            scheduler.start()
            while True:
                left = sum(1 for p in client.list("pods", "default")["items"]
                           if not p["spec"].get("nodeName"))
                if not left:
                    break
                if time.monotonic() - started > float(os.environ.get("BENCH_TIMEOUT", "600")):
                    raise SystemExit(f"{left} pods still unbound")
                time.sleep(0.2)
            wall = time.monotonic() - started
            sched_cpu, informer_cpu = thread_cpu("scheduler"), thread_cpu("informer-pods")
            spread: dict[str, int] = {}
            for p in client.list("pods", "default")["items"]:
                spread[p["spec"]["nodeName"]] = spread.get(p["spec"]["nodeName"], 0) + 1
            stop.set()
            scheduler.join(2.0)
        finally:
            server.stop()
    return {"kompy": str(Path(kompy.__file__).resolve().parent), "wall_s": round(wall, 3),
            "scheduler_cpu_s": round(sched_cpu, 4),
            "api_calls_cpu_s": round(timed.cpu, 4),
            "decisions_cpu_s": round(sched_cpu - timed.cpu, 4),
            "pods_informer_cpu_s": round(informer_cpu, 4), "spread": spread}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "scheduler_cpu_s", "api_calls_cpu_s", "decisions_cpu_s",
            "pods_informer_cpu_s")
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in keys}


def main() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import machine, save
    from paired import load, order, parser, run_in, trees
    options = parser(rounds=3)
    options.add_argument("--pods", type=int, default=300)
    options.add_argument("--nodes", type=int, default=3)
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths, compared = trees(args, Path(tmp))
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
        for i in range(args.rounds):
            for label in order(i):
                before = load()
                result = run_in(paths[label], "bench_scheduler", "child", args.pods,
                                args.nodes)
                assert Path(result["kompy"]) == (paths[label] / "kompy").resolve(), result
                result.update(label=label, round=i, load_before=before, load_after=load())
                runs[label].append(result)
                print(json.dumps(result), file=sys.stderr)
    base_s, this_s = summary(runs["baseline"]), summary(runs["this"])
    save(RESULTS, {
        "what": f"scheduler CPU to place {args.pods} pods on {args.nodes} nodes "
                "(in-process API server, no kubelet); medians over rounds",
        "machine": machine(), **compared,
        "median": {"baseline": base_s, "this": this_s},
        "ratio_scheduler_cpu": round(this_s["scheduler_cpu_s"] / base_s["scheduler_cpu_s"], 3),
        "ratio_decisions_cpu": round(this_s["decisions_cpu_s"] / base_s["decisions_cpu_s"], 3),
        "runs": runs["baseline"] + runs["this"]})


if __name__ == "__main__":
    main()
