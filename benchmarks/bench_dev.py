"""Benchmark of ``kompy dev``: from saving a file to the new content being served.

Runs the real ``kompy dev`` on a copy of ``samples/devloop`` (kompy/busybox:1 serving files
with ``httpd``), twice on the same cluster in the same run: once syncing through the API's
standard exec (the default, what any cluster gets) and once with the built-in cluster's
shortcut, the engine's archive copy (``KOMPY_DEV_SYNC=engine``). ``--rounds`` edits each:

- sync (both sessions): a file of a ``sync`` rule changes -> the served page has it;
- sync+restart (first session): a file of a ``sync+restart`` rule changes -> the restarted
  container serves what its start-up script made from it;
- rebuild (first session): the Dockerfile (a ``rebuild`` rule) changes -> the new image's
  pod serves.

Each time is measured from the file write to the first HTTP answer with the new content
(requests every 20 ms); medians and 95th percentiles are reported. Writes
benchmarks/results/dev.json. Run: ``python3 benchmarks/bench_dev.py [--rounds 20]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

RESULTS = Path(__file__).resolve().parent / "results" / "dev.json"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "devloop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None   # restarting: refused, reset, or cut off mid-answer


def until(port: int, path: str, wanted: str, timeout: float = 300.0) -> float:
    """Seconds until GET path answers ``wanted``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if get(port, path) == wanted:
            return time.monotonic() - start
        time.sleep(0.02)
    raise SystemExit(f"{path} never answered {wanted!r} within {timeout} s")


def timed_change(port: int, path: str, wanted: str, write: Any) -> float:
    start = time.monotonic()
    write()
    until(port, path, wanted)
    return round(time.monotonic() - start, 3)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def session(project: Path, env: dict[str, str], port: int, mode: str, rounds: int,
            everything: bool, results: dict[str, list[float]]) -> float:
    """One ``kompy dev`` session syncing the ``mode`` way; seconds to the first answer."""
    www = project / "web" / "www" / "index.html"
    greeting = project / "web" / "conf" / "greeting"
    dockerfile = project / "web" / "Dockerfile"
    original = dockerfile.read_text()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev", "--no-logs"], cwd=project,
                            env={**env, "KOMPY_DEV_SYNC": mode}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()
    try:
        until(port, "/index.html", www.read_text().strip())
        first = round(time.monotonic() - started, 2)
        while not any("watching" in line for line in lines):
            time.sleep(0.05)
        # The edits of a kind in a row: the first sync into a new pod starts its helper
        # (one exec, about 0.1-0.2 s), and a restart or a rebuild makes a new one.
        for i in range(1, rounds + 1):
            value = f"{mode}-{i}"
            results[f"sync_{mode}"].append(timed_change(
                port, "/index.html", value, lambda v=value: www.write_text(f"{v}\n")))
        if not everything:
            return first
        for i in range(1, rounds + 1):
            results["sync_restart"].append(timed_change(
                port, "/greeting.txt", str(i), lambda i=i: greeting.write_text(f"{i}\n")))
        for i in range(1, rounds + 1):
            # The sample's image says build 1: round i makes build i + 1.
            results["rebuild"].append(timed_change(
                port, "/build.txt", str(i + 1),
                lambda i=i: dockerfile.write_text(original.replace("echo 1 >",
                                                                   f"echo {i + 1} >"))))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    return first


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kompy-devbench-"))
    home = folder / "home"
    port = free_port()
    project = folder / "devloop"
    shutil.copytree(SAMPLE, project)
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace('"8090:8000"', f'"{port}:8000"'))
    (project / "web" / "www" / "index.html").write_text("0\n")
    (project / "web" / "conf" / "greeting").write_text("0\n")
    env = {**os.environ, "KOMPY_HOME": str(home),
           "KOMPY_CLUSTER": f"devbench{uuid.uuid4().hex[:6]}", "PYTHONUNBUFFERED": "1"}
    results: dict[str, list[float]] = {"sync_exec": [], "sync_engine": [], "sync_restart": [],
                                       "rebuild": []}
    load = os.getloadavg()[0]
    try:
        first = session(project, env, port, "exec", args.rounds, True, results)
        session(project, env, port, "engine", args.rounds, False, results)
    finally:
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    result = {"machine": machine(), "rounds": args.rounds,
              "first_deploy_s (cluster start, build, rollout)": first,
              "load_average": [load, os.getloadavg()[0]],
              "change_to_serving_s": results,
              "medians_s": {k: statistics.median(v) for k, v in results.items()},
              "p95_s": {k: p95(v) for k, v in results.items()}}
    save(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
