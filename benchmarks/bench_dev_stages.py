"""Where a ``kompy dev`` rebuild's time goes, stage by stage, on the built-in cluster.

Runs the real ``kompy dev`` on a copy of ``samples/devloop`` and makes ``--rounds``
Dockerfile edits in a row (each a new ``RUN`` line: a real build), as bench_dev.py's
``rebuild`` edits, while every process of the run (``kompy dev`` and the cluster's daemon)
records when its steps start and end (benchmarks/stagetrace/sitecustomize.py). Per edit, in
milliseconds from the file write:

- ``batch``: the watcher hands the change over (file event, 50 ms quiet time);
- ``pre_build``: plan, content hash (the base image's id, the context), the content tag
  looked up;
- ``build``: the engine's ``docker build``;
- ``apply``: from the built image to the applied manifests;
- ``control_plane``: Deployment -> ReplicaSet -> Pod -> scheduled -> the kubelet's sync up
  to the container's creation (volumes, hosts files, token);
- ``create_start``: the engine's container create and start (network set-up);
- ``status``: the container inspected, the pod's status written;
- ``switch``: from that status to the first answer with the new content (Endpoints, the
  proxy, the old pod leaving the rotation);
- ``total``: the file write to that answer.

With ``--baseline DIR`` (another checkout of kompy, e.g. a ``git worktree`` of main),
sessions of that code and of this one alternate (``--pairs`` each), on the same machine
at the same time, so that the load's noise falls on both. Medians per stage and code,
with the load average before and after each session, go to
benchmarks/results/dev_stages.json. Run:
``python3 benchmarks/bench_dev_stages.py [--rounds 10] [--pairs 2] [--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

# benchmarks/ is on the path when run as a script.
from bench_dev import SAMPLE, default_sigint, free_port, fresh_values, until
from dev_peers import edited_dockerfile
from machine import machine, save

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "dev_stages.json"
TRACER = HERE / "stagetrace"
STAGES = ("batch", "pre_build", "build", "apply", "control_plane", "create_start", "status",
          "switch", "total")


def session(code: Path, rounds: int) -> dict[str, Any]:
    """One ``kompy dev`` session of the kompy in ``code``: its edits' stage timings."""
    folder = Path(tempfile.mkdtemp(prefix="kompy-devstages-"))
    trace = folder / "trace.jsonl"
    project = folder / "devloop"
    shutil.copytree(SAMPLE, project)
    env = {**os.environ, "KOMPY_HOME": str(folder / "home"), "PYTHONUNBUFFERED": "1",
           "KOMPY_CLUSTER": f"devstages{uuid.uuid4().hex[:6]}", "KOMPY_STAGE_TRACE": str(trace),
           "PYTHONPATH": os.pathsep.join([str(TRACER), str(code)])}
    port = free_port()
    compose = project / "compose.yaml"
    compose.write_text(re.sub(r'"\d+:8000"', f'"{port}:8000"', compose.read_text()))
    dockerfile = project / "web" / "Dockerfile"
    original = dockerfile.read_text()
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev", "--no-logs"], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True,
                            preexec_fn=default_sigint)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()
    marks: list[tuple[float, float]] = []   # (written, served), epoch seconds
    try:
        until(port, "/build.txt", "1", proc, lines)
        while not any("watching" in line for line in lines):   # edits before it are lost
            if proc.poll() is not None:
                raise SystemExit(f"kompy dev exited with {proc.returncode}:\n"
                                 f"{''.join(lines[-20:])}")
            time.sleep(0.05)
        for value in fresh_values(rounds):   # never served from the layer cache
            written = time.time()
            dockerfile.write_text(edited_dockerfile(original, value))
            until(port, "/build.txt", str(value), proc, lines)
            marks.append((written, time.time()))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True)
        events = [json.loads(line) for line in trace.read_text().splitlines()] \
            if trace.exists() else []
        shutil.rmtree(folder, ignore_errors=True)
    return {"load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "edits": [stages(events, written, served) for written, served in marks]}


def stages(events: list[dict[str, Any]], written: float, served: float) -> dict[str, float]:
    """The stages of the edit written at ``written`` (ms), from the calls recorded."""
    def first(name: str, edge: str = "t0", after: float = written) -> float:
        times = [e[edge] for e in events if e["n"] == name and e["t0"] >= after - 0.001
                 and e["t0"] <= served]
        return min(times) if times else float("nan")

    batch = first("plan_changes")
    build0, build1 = first("build_image"), first("build_image", "t1")
    applied = first("apply_all", "t1")
    created = first("DockerBackend.create", after=applied)
    started = first("DockerBackend.start", "t1", after=created)
    status = first("Kubelet._write_status", "t1", after=started)
    points = {"batch": batch - written, "pre_build": build0 - batch, "build": build1 - build0,
              "apply": applied - build1, "control_plane": created - applied,
              "create_start": started - created, "status": status - started,
              "switch": served - status, "total": served - written}
    return {k: round(v * 1000, 1) for k, v in points.items()}


def medians(edits: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for stage in STAGES:
        values = [e[stage] for e in edits if e[stage] == e[stage]]   # not NaN
        out[stage] = round(statistics.median(values), 1) if values else float("nan")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="another kompy checkout, run alternately")
    args = parser.parse_args()
    codes = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for _ in range(args.pairs):
        for name, code in codes.items():
            runs[name].append(session(code, args.rounds))
            print(f"{name}: {runs[name][-1]['load_average']} "
                  f"{medians(runs[name][-1]['edits'])}", file=sys.stderr)
    result = {"machine": machine(), "rounds": args.rounds, "pairs": args.pairs,
              "codes": {name: str(code) for name, code in codes.items()},
              "medians_ms": {name: medians([e for s in sessions for e in s["edits"]])
                             for name, sessions in runs.items()},
              "sessions": runs}
    save(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
