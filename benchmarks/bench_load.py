"""Benchmark: load a generated Compose project of 2,000 services spread over 5 files.

The base file defines every service (interpolation with ``${VAR:-default}``, ports, volumes,
environment, labels, healthchecks, depends_on); a third of them ``extends`` a template, half
of those from another file. Four override files each change 500 services (environment,
labels, ports, command). Prints wall time per load and peak memory, and writes the results to
benchmarks/results/load.json.

    python3 benchmarks/bench_load.py [--runs N] [--services N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kompy.compose.loader import LoadOptions, load_project  # noqa: E402


def service(i: int, count: int) -> str:
    lines = [
        f"  svc{i}:",
        f"    image: ${{REGISTRY:-registry.local}}/app{i % 50}:${{TAG:-1.{i % 7}}}",
    ]
    if i % 3 == 0:
        if i % 6 == 0:
            lines.append("    extends: {file: common.yaml, service: template}")
        else:
            lines.append("    extends: base-template")
    lines += [
        "    environment:",
        f"      SERVICE_ID: \"{i}\"",
        "      LOG_LEVEL: ${LOG_LEVEL:-info}",
        f"      DB_URL: postgres://db{i % 10}:5432/app",
        "    ports:",
        f"      - \"{10000 + i}:8080\"",
        "    volumes:",
        f"      - data{i % 20}:/var/lib/app",
        f"      - ./conf/svc{i}:/etc/app:ro",
        "    labels:",
        f"      com.example.tier: \"{'web' if i % 2 else 'worker'}\"",
        f"      com.example.index: \"{i}\"",
        "    healthcheck:",
        "      test: [\"CMD\", \"true\"]",
        "      interval: ${HC_INTERVAL:-30s}",
        "      retries: 3",
        "    restart: unless-stopped",
    ]
    if i > 0:
        lines += ["    depends_on:", f"      - svc{(i * 7) % i}"]
    return "\n".join(lines)


def generate(root: Path, count: int) -> list[str]:
    head = [
        "name: bench",
        "services:",
        "  base-template:",
        "    image: busybox",
        "    working_dir: /app",
        "    stop_grace_period: 20s",
    ]
    body = [service(i, count) for i in range(count)]
    volumes = ["volumes:", *[f"  data{i}: {{}}" for i in range(20)]]
    (root / "compose.yaml").write_text("\n".join([*head, *body, *volumes]) + "\n")
    (root / "common.yaml").write_text(
        "services:\n  template:\n    image: busybox\n    user: \"1000\"\n"
        "    environment:\n      FROM_COMMON: \"yes\"\n    cap_drop: [ALL]\n"
    )
    files = ["compose.yaml"]
    for n in range(4):
        lines = ["services:"]
        for i in range(n, count, 4):
            lines += [
                f"  svc{i}:",
                "    environment:",
                f"      OVERRIDE_{n}: ${{OVERRIDE_VALUE:-on}}",
                "    labels:",
                f"      - com.example.override={n}",
                "    ports:",
                f"      - \"{30000 + i}:9090\"",
                "    command: [\"serve\", \"--port\", \"8080\"]",
            ]
        name = f"override{n}.yaml"
        (root / name).write_text("\n".join(lines) + "\n")
        files.append(name)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--output", default=str(HERE / "results" / "load.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kompy-bench-") as tmp:
        root = Path(tmp)
        files = generate(root, args.services)
        lines = sum(len((root / f).read_text().splitlines()) for f in files)
        options = LoadOptions(files=tuple(files), cwd=tmp, environ={"TAG": "2.0"})
        times, cpu = [], []
        project = None
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            project = load_project(options)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert project is not None and len(project.services) == args.services + 1
        tracemalloc.start()
        load_project(options)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "services": args.services,
        "files": len(files),
        "lines": lines,
        "runs": args.runs,
        "first_s": round(times[0], 3),
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        # CPU seconds: on a shared machine wall time includes waiting for other processes.
        "first_cpu_s": round(cpu[0], 3),
        "best_cpu_s": round(min(cpu), 3),
        "load_average": round(os.getloadavg()[0], 2),
        "peak_traced_mib": round(traced_peak / 2**20, 1),
        "max_rss_mib": round(maxrss_mib, 1),
        "python": platform.python_version(),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        "targets": {"time_s": 1.5, "memory_mib": 300},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = result["first_cpu_s"] < 1.5 and result["max_rss_mib"] < 300
    print("targets met" if ok else "TARGETS MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
