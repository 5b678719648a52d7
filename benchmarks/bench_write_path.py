"""Benchmark: the API server's CPU per write of a pod with resources, before and after
quantities were canonicalised (the schema walk rewrites them) and no-op writes kept their
managed fields' times.

In-process (``handlers.Api`` over an in-memory store, no HTTP, no runtime), thread CPU time:
each of ``--pods`` pods with four quantities is created, then replaced with the same body
(the no-op a second ``kubectl apply`` makes), then has its status written. The baseline is
main's merge base (or ``--baseline``), run alternately with this tree in fresh processes
(paired.py). Writes benchmarks/results/write_path.json.
Run: ``python3 benchmarks/bench_write_path.py [--rounds 6] [--pods 300]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KEYS = ("create_us", "noop_update_us", "status_update_us")


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "containers": [{"name": "c", "image": "kompy/busybox:1", "resources": {
            "requests": {"cpu": 0.5, "memory": "1.5Gi"},
            "limits": {"cpu": "1000m", "memory": "2Gi"}}}]}}


def _median_us(samples: list[int]) -> float:
    return round(statistics.median(samples) / 1000, 1)


def child(pods: int) -> dict[str, Any]:
    """Per-write thread CPU (µs, medians) in the tree this process imports kompy from."""
    import kompy
    from kompy.client import resources
    from kompy.cluster.apiserver.handlers import Api, Route
    from kompy.cluster.store.sqlite import Store

    api = Api(Store(":memory:"))
    route = Route(resources.lookup("pods"), "default", None, None)
    took: dict[str, list[int]] = {key: [] for key in KEYS}
    for i in range(pods):
        began = time.thread_time_ns()
        stored = api.create(route, _pod(f"p{i}"))
        took["create_us"].append(time.thread_time_ns() - began)
        named = Route(route.res, "default", f"p{i}", None)
        began = time.thread_time_ns()
        stored = api.update(named, stored)
        took["noop_update_us"].append(time.thread_time_ns() - began)
        stored["status"] = {"phase": "Running", "conditions": [{"type": "Ready",
                                                                "status": "True"}]}
        began = time.thread_time_ns()
        api.update(Route(route.res, "default", f"p{i}", "status"), stored)
        took["status_update_us"].append(time.thread_time_ns() - began)
    return {"kompy": str(Path(kompy.__file__).parent.resolve()),
            **{key: _median_us(values) for key, values in took.items()}}


def main() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import machine, save
    from paired import parser, rounds
    options = parser(rounds=6)
    options.add_argument("--pods", type=int, default=300)
    args = options.parse_args()
    runs, compared = rounds(args, "bench_write_path", "child", args.pods)
    median = {label: {key: round(statistics.median(r[key] for r in results), 1)
                      for key in KEYS} for label, results in runs.items()}
    save(REPO / "benchmarks" / "results" / "write_path.json", {
        "what": f"API server thread CPU per write of a pod with 4 quantities ({args.pods} "
                "pods: create, a no-op replace, a status write), in-process, in-memory "
                "store; medians of the rounds' medians, µs",
        "machine": machine(), **compared, "median": median,
        "ratio": {key: round(median["this"][key] / median["baseline"][key], 3)
                  for key in KEYS},
        "runs": runs["baseline"] + runs["this"]})


if __name__ == "__main__":
    main()
