"""Benchmark: the API server's memory under a burst of big objects, this tree beside a
baseline commit in the same run (the watch cache's bound, issue: it counted JSON bytes of
parsed objects, so it did not bound memory).

Each child process opens a fresh store (the daemon's, with its watch cache; glibc arenas
capped as the daemon caps them) and writes ``--objects`` ConfigMaps of about 50 KiB, then
updates each of them ``--updates`` times. Two shapes: ``keys`` (500 small keys: a parsed
object is several times its JSON) and ``blob`` (one 50 KiB value: about its JSON). It
reports the process' RSS before and after the burst and its peak, what the cache says it
holds, and the CPU time of the writes.

Writes benchmarks/results/watch_cache.json. Run:
``nice python3 benchmarks/bench_watch_cache.py --rounds 2``.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "watch_cache.json"
MIB = 1024 * 1024


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def configmap(name: str, shape: str) -> dict[str, Any]:
    data = ({f"key-{k:04d}": f"{k:06d}" + "v" * 80 for k in range(500)} if shape == "keys"
            else {"blob": "x" * 50 * 1024})
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": data}


def child(shape: str, objects: int, updates: int) -> dict[str, Any]:
    import kompy
    from kompy.client import resources
    from kompy.cluster.store.sqlite import Store

    cms = resources.lookup("configmaps")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store.db")
        gc.collect()
        rss_before = status_kib("VmRSS")
        cpu = time.process_time()
        for round_ in range(updates + 1):
            for i in range(objects):
                obj = configmap(f"c{i:04d}", shape)
                obj["data"][next(iter(obj["data"]))] += str(round_)
                if round_:
                    current = store.get(cms, "default", f"c{i:04d}")
                    obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    store.update(cms, obj)
                else:
                    store.create(cms, obj)
        cpu = time.process_time() - cpu
        gc.collect()
        result = {"kompy": str(Path(kompy.__file__).resolve().parent), "shape": shape,
                  "json_kib_per_object": round(len(json.dumps(configmap("c", shape))) / 1024,
                                               1),
                  "writes": objects * (updates + 1), "write_cpu_s": round(cpu, 2),
                  "rss_before_mib": round(rss_before / 1024, 1),
                  "rss_after_mib": round(status_kib("VmRSS") / 1024, 1),
                  "rss_peak_mib": round(status_kib("VmHWM") / 1024, 1),
                  "cache_says_mib": round(store.sizes()["cache"] / MIB, 1)}
        store.close()
    return result


def main() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import machine, save
    from paired import load, order, parser, run_in, trees
    options = parser(rounds=1)
    options.add_argument("--objects", type=int, default=2000)
    options.add_argument("--updates", type=int, default=3)
    args = options.parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths, compared = trees(args, Path(tmp))
        for i in range(args.rounds):
            for shape in ("keys", "blob"):
                for label in order(i):
                    before = load()
                    result = run_in(paths[label], "bench_watch_cache", "child", shape,
                                    args.objects, args.updates,
                                    env={"MALLOC_ARENA_MAX": "2"})
                    assert Path(result["kompy"]) == (paths[label] / "kompy").resolve()
                    result.update(label=label, round=i, load_before=before,
                                  load_after=load())
                    runs.append(result)
                    print(json.dumps(result), file=sys.stderr)
    median: dict[str, dict[str, Any]] = {}
    for shape in ("keys", "blob"):
        for label in ("baseline", "this"):
            mine = [r for r in runs if r["shape"] == shape and r["label"] == label]
            median[f"{shape}/{label}"] = {k: statistics.median(r[k] for r in mine) for k in (
                "rss_after_mib", "rss_peak_mib", "cache_says_mib", "write_cpu_s")}
    save(RESULTS, {
        "what": f"{args.objects} ConfigMaps of ~50 KiB written then updated {args.updates} "
                "times into a fresh store (watch cache bound 32 MiB); process RSS; medians",
        "machine": machine(), **compared,
        "median": median, "runs": runs})


if __name__ == "__main__":
    main()
