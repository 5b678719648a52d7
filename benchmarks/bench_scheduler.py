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

``--case churn`` measures the scheduling queue instead: ``--waiting`` pods that no node
takes wait (half for a node label no node has, half for more CPU than any node has), then
``--churn`` small pods are created one after the other, each deleted ``--keep`` creations
later (so pods keep leaving their nodes). It reports the scheduler thread's CPU during the
churn, its API calls, and each small pod's decision latency (from its create call to the
pods informer seeing it bound). Writes benchmarks/results/scheduler_churn.json:
``nice python3 benchmarks/bench_scheduler.py --case churn --rounds 3``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
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
    """The scheduler's client, counting the CPU its calls take in the scheduler's thread,
    and the calls of each method from any thread (the event recorder's too)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.cpu = 0.0
        self.calls: dict[str, int] = {}

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._client, attr)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls[attr] = self.calls.get(attr, 0) + 1
            if threading.current_thread().name != "scheduler":
                return target(*args, **kwargs)  # the event recorder's own thread
            start = time.thread_time()
            try:
                return target(*args, **kwargs)
            finally:
                self.cpu += time.thread_time() - start
        return timed


def make_nodes(client: Any, nodes: int) -> None:
    for i in range(nodes):
        name = "kompy" if i == 0 else f"kompy-m{i + 1:02d}"
        made = client.create({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": name, "labels": {"kubernetes.io/hostname": name}}})
        client.replace_status({**made, "status": {"allocatable": {
            "cpu": "64", "memory": "256Gi", "pods": "110"}}})


def small_pod(name: str, cpu: str = "10m", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": "default", "labels": {"app": name.rsplit("-", 1)[0]}},
        "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1", "resources": {
            "requests": {"cpu": cpu, "memory": "16Mi"}}}], **spec}}


def refused(client: Any) -> int:
    return sum(1 for p in client.list("pods", "default")["items"]
               if any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                      for c in (p.get("status") or {}).get("conditions") or []))


def churn(waiting: int, churn_pods: int, keep: int, nodes: int) -> dict[str, Any]:
    import kompy
    from kompy.client import KubeClient
    from kompy.client.events import EventRecorder
    from kompy.client.informer import Informers
    from kompy.client.loopback import attach
    from kompy.cluster.apiserver.server import ApiServer
    from kompy.cluster.scheduler.scheduler import Scheduler
    from kompy.cluster.store.sqlite import Store

    timeout = float(os.environ.get("BENCH_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Store(Path(tmp) / "store.db"), "token").start()
        client = attach(KubeClient.for_server(server.url, "token"), server.router)
        try:
            make_nodes(client, nodes)
            for i in range(waiting):
                if i % 2:
                    client.create(small_pod(f"wants-ssd-{i:04d}",
                                            nodeSelector={"disktype": "ssd"}))
                else:
                    client.create(small_pod(f"too-big-{i:04d}", cpu="100"))
            stop = threading.Event()
            informers = Informers(client, stop)
            timed = TimedClient(client)
            as_client: Any = timed
            scheduler = Scheduler(as_client, informers,
                                  EventRecorder(as_client, "default-scheduler"))
            created: dict[str, float] = {}
            bound: dict[str, float] = {}
            seen = threading.Condition()

            def on_pod(pod: dict[str, Any], deleted: bool) -> None:
                pod_name = pod["metadata"]["name"]
                if not deleted and pod["spec"].get("nodeName") and pod_name not in bound:
                    with seen:
                        bound[pod_name] = time.monotonic()
                        seen.notify_all()

            informers["pods"].add_handler(on_pod)
            informers.start()
            scheduler.start()
            started = time.monotonic()
            while refused(client) < waiting:
                if time.monotonic() - started > timeout:
                    raise SystemExit(f"only {refused(client)} of {waiting} pods refused")
                time.sleep(0.2)
            cpu_before, api_before = thread_cpu("scheduler"), timed.cpu
            calls_before = dict(timed.calls)
            churn_started = time.monotonic()
            for i in range(churn_pods):
                pod_name = f"churn-{i:04d}"
                created[pod_name] = time.monotonic()
                client.create(small_pod(pod_name))
                with seen:
                    if not seen.wait_for(partial(dict.__contains__, bound, pod_name),
                                         timeout):
                        raise SystemExit(f"{pod_name} not bound in {timeout} s")
                if i >= keep:
                    client.delete("pods", f"churn-{i - keep:04d}", "default",
                                  grace_period_seconds=0)
            churn_wall = time.monotonic() - churn_started
            cpu = thread_cpu("scheduler") - cpu_before
            api = timed.cpu - api_before
            calls = {k: v - calls_before.get(k, 0) for k, v in timed.calls.items()
                     if v - calls_before.get(k, 0)}
            still_waiting = waiting - sum(1 for n in bound if not n.startswith("churn-"))
            stop.set()
            scheduler.join(2.0)
        finally:
            server.stop()
    latencies = sorted(bound[n] - created[n] for n in created)
    return {"kompy": str(Path(kompy.__file__).resolve().parent),
            "churn_wall_s": round(churn_wall, 3),
            "scheduler_cpu_s": round(cpu, 4), "api_calls_cpu_s": round(api, 4),
            "decisions_cpu_s": round(cpu - api, 4),
            "latency_median_ms": round(1000 * statistics.median(latencies), 2),
            "latency_p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2),
            "latency_max_ms": round(1000 * latencies[-1], 2),
            "api_calls_during_churn": calls, "still_waiting": still_waiting}


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
            make_nodes(client, nodes)
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
            "pods_informer_cpu_s": round(informer_cpu, 4), "spread": spread,
            "api_calls": timed.calls}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "scheduler_cpu_s", "api_calls_cpu_s", "decisions_cpu_s",
            "pods_informer_cpu_s")
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in keys}


def main() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import machine, save
    from paired import parser, rounds
    options = parser(rounds=3)
    options.add_argument("--case", choices=("place", "churn"), default="place")
    options.add_argument("--pods", type=int, default=300)
    options.add_argument("--nodes", type=int, default=3)
    options.add_argument("--waiting", type=int, default=200)
    options.add_argument("--churn", type=int, default=100)
    options.add_argument("--keep", type=int, default=10)
    args = options.parse_args()
    if args.case == "churn":
        main_churn(args)
        return
    runs, compared = rounds(args, "bench_scheduler", "child", args.pods, args.nodes)
    base_s, this_s = summary(runs["baseline"]), summary(runs["this"])
    save(RESULTS, {
        "what": f"scheduler CPU to place {args.pods} pods on {args.nodes} nodes "
                "(in-process API server, no kubelet); medians over rounds",
        "machine": machine(), **compared,
        "median": {"baseline": base_s, "this": this_s},
        "ratio_scheduler_cpu": round(this_s["scheduler_cpu_s"] / base_s["scheduler_cpu_s"], 3),
        "ratio_decisions_cpu": round(this_s["decisions_cpu_s"] / base_s["decisions_cpu_s"], 3),
        "runs": runs["baseline"] + runs["this"]})


def main_churn(args: Any) -> None:
    from machine import machine, save
    from paired import rounds
    keys = ("churn_wall_s", "scheduler_cpu_s", "api_calls_cpu_s", "decisions_cpu_s",
            "latency_median_ms", "latency_p95_ms", "latency_max_ms")
    runs, compared = rounds(args, "bench_scheduler", "churn", args.waiting, args.churn,
                            args.keep, args.nodes)
    med = {label: {k: round(statistics.median(r[k] for r in rs), 4) for k in keys}
           for label, rs in runs.items()}
    save(REPO / "benchmarks" / "results" / "scheduler_churn.json", {
        "what": f"{args.waiting} pods no node takes (half a missing node label, half too "
                f"much CPU) on {args.nodes} nodes, then {args.churn} small pods created one "
                f"by one, each deleted {args.keep} creations later: the scheduler thread's "
                "CPU over the churn and each small pod's create-to-bound latency "
                "(in-process API server, no kubelet); medians over rounds",
        "machine": machine(), **compared, "median": med,
        "ratio_scheduler_cpu": round(med["this"]["scheduler_cpu_s"] /
                                     med["baseline"]["scheduler_cpu_s"], 3),
        "ratio_latency_median": round(med["this"]["latency_median_ms"] /
                                      med["baseline"]["latency_median_ms"], 3),
        "runs": runs["baseline"] + runs["this"]})


if __name__ == "__main__":
    main()
