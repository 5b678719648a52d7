"""The cost of quota and LimitRange admission on pod creates, side by side in one run.

A real daemon (API only, no Docker runtime); pods are created in turn in two namespaces, one
plain and one with a LimitRange (defaults) and a ResourceQuota (compute and counts), so both
see the same machine load. Quota usage is counted from the store at each create, so its cost
grows with the pods already in the namespace: the latency is reported per hundred pods.

    python benchmarks/bench_admission.py [--pods 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

RESULTS = Path(__file__).parent / "results" / "admission.json"


def pod(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}}


def setup(client: Any, pods: int) -> None:
    for ns in ("plain", "policed"):
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    client.create({"apiVersion": "v1", "kind": "LimitRange",
                   "metadata": {"name": "defaults", "namespace": "policed"},
                   "spec": {"limits": [{"type": "Container", "default": {
                       "cpu": "10m", "memory": "16Mi"}}]}})
    client.create({"apiVersion": "v1", "kind": "ResourceQuota",
                   "metadata": {"name": "compute", "namespace": "policed"},
                   "spec": {"hard": {"pods": str(pods * 2), "requests.cpu": "1000",
                                     "limits.memory": "1Ti", "count/configmaps": "100"}}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=400)
    args = parser.parse_args()
    os.environ["KOMPY_HOME"] = tempfile.mkdtemp(prefix="kompy-bench-")
    os.environ["KOMPY_CLUSTER_NO_RUNTIME"] = "1"
    from kompy.cluster.daemon import process as daemon

    client = daemon.ensure_cluster("bench-admission")
    try:
        setup(client, args.pods)
        samples: dict[str, list[float]] = {"plain": [], "policed": []}
        for i in range(args.pods):
            for ns in ("plain", "policed"):
                start = time.perf_counter()
                client.create(pod(f"p{i}", ns))
                samples[ns].append((time.perf_counter() - start) * 1000)
        rows = []
        for first in range(0, args.pods, 100):
            row: dict[str, Any] = {"pods": f"{first}-{first + 99}"}
            for ns, values in samples.items():
                part = sorted(values[first:first + 100])
                row[ns] = {"median_ms": round(statistics.median(part), 2),
                           "p95_ms": round(part[int(len(part) * 0.95) - 1], 2)}
            rows.append(row)
        save(RESULTS, {"benchmark": "admission", "machine": machine(),
                       "load_average": round(os.getloadavg()[0], 1), "pod_creates": rows})
    finally:
        daemon.reset("bench-admission")


if __name__ == "__main__":
    main()
