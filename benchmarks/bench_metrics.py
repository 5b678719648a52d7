"""How the metrics collector should read containers' CPU and memory: side by side, in the
same run, on the same containers.

* ``cgroup files``: kubelet/cgroups.py (what the collector uses when it can);
* ``stats stream=false``: Docker's stats endpoint as the SDK's ``stats(stream=False)`` asks;
* ``stats one-shot``: the same with ``one-shot=true`` (API 1.41+);
* ``collector round``: one ``DockerBackend.usage`` (the listing plus every reading).

Starts ``--containers`` idle busybox containers labelled ``kompy.bench=metrics`` and removes
them at the end:

    python benchmarks/bench_metrics.py [--containers 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from machine import machine, save

from kompy.cluster.kubelet import cgroups
from kompy.cluster.kubelet.backend import LABEL_ROLE
from kompy.cluster.kubelet.docker_backend import DockerBackend
from kompy.engine.connection import connect

RESULTS = Path(__file__).resolve().parent / "results" / "metrics.json"


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engine = connect()
    cluster = f"bench{uuid.uuid4().hex[:6]}"
    home = tempfile.mkdtemp(prefix="kompy-bench-metrics-")
    backend = DockerBackend(cluster, home, engine)
    labels = {**backend.labels("bench", "bench"), LABEL_ROLE: "app", "kompy.bench": "metrics"}
    ids = [engine.api.create_container("kompy/busybox:1", ["sleep", "600"], labels=labels)["Id"]
           for _ in range(args.containers)]
    try:
        for cid in ids:
            engine.api.start(cid)
        samples: dict[str, list[float]] = {"cgroup files": [], "stats stream=false": [],
                                           "stats one-shot": [], "collector round": []}
        visible = all(cgroups.read(cid) is not None for cid in ids)
        for _ in range(args.rounds):
            for cid in ids:
                samples["cgroup files"].append(timed_ms(partial(cgroups.read, cid)))
                samples["stats stream=false"].append(timed_ms(
                    partial(engine.api.stats, cid, stream=False)))
                samples["stats one-shot"].append(timed_ms(
                    partial(engine.api.stats, cid, stream=False, one_shot=True)))
            samples["collector round"].append(timed_ms(lambda: backend.usage(
                {"kompy.bench": "metrics"})))
        result = {"machine": machine(), "load_average": list(os.getloadavg()),
                  "containers": args.containers, "cgroups_visible": visible,
                  "median_ms": {k: round(statistics.median(v), 3) for k, v in samples.items()},
                  "max_ms": {k: round(max(v), 3) for k, v in samples.items()}}
        save(RESULTS, result)
    finally:
        for cid in ids:
            engine.api.remove_container(cid, force=True)


if __name__ == "__main__":
    main()
