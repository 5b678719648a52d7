"""Benchmark of ``kompy dev``: from saving a file to the new content being served.

Runs the real ``kompy dev`` on a small project (kompy/busybox:1 serving files with
``httpd``), then, ``--rounds`` times each:

- sync: a file of a ``sync`` rule changes -> the served page has the new content;
- sync+restart: a file of a ``sync+restart`` rule changes -> the restarted container serves
  what its start-up script made from it;
- rebuild: the Dockerfile (a ``rebuild`` rule) changes -> the new image's pod serves.

Each time is measured from the file write to the first HTTP answer with the new content
(requests every 20 ms). Writes benchmarks/results/dev.json. Run:
``python3 benchmarks/bench_dev.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

RESULTS = Path(__file__).resolve().parent / "results" / "dev.json"
COMPOSE = """\
name: devbench
services:
  web:
    build: ./web
    image: devbench-web:dev
    ports:
      - "{port}:8000"
    develop:
      watch:
        - path: ./web/www
          action: sync
          target: /www
        - path: ./web/conf
          action: sync+restart
          target: /conf
        - path: ./web/Dockerfile
          action: rebuild
"""
DOCKERFILE = """\
FROM kompy/busybox:1
COPY www /www
COPY conf /conf
RUN echo {build} > /www/build.txt
# httpd as PID 1 would ignore SIGTERM (each restart would wait out the grace period):
# the shell stops it and exits, as a well-behaved server does.
CMD ["sh", "-c", "cp /conf/greeting /www/greeting.txt; httpd -f -p 8000 -h /www & trap 'kill $!; exit 0' TERM; wait"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError):
        return None


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


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                  if line.startswith("model name")), "")
    engine = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "docker_engine": engine}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kompy-devbench-"))
    home = folder / "home"
    port = free_port()
    project = folder / "devbench"
    (project / "web" / "www").mkdir(parents=True)
    (project / "web" / "conf").mkdir()
    (project / "compose.yaml").write_text(COMPOSE.format(port=port))
    (project / "web" / "Dockerfile").write_text(DOCKERFILE.format(build=0))
    (project / "web" / "www" / "index.html").write_text("0\n")
    (project / "web" / "conf" / "greeting").write_text("0\n")
    env = {**os.environ, "KOMPY_HOME": str(home),
           "KOMPY_CLUSTER": f"devbench{uuid.uuid4().hex[:6]}", "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev", "--no-logs"], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()
    results: dict[str, list[float]] = {"sync": [], "sync_restart": [], "rebuild": []}
    try:
        until(port, "/index.html", "0")
        first = round(time.monotonic() - started, 2)
        while not any("watching" in line for line in lines):
            time.sleep(0.05)
        for i in range(1, args.rounds + 1):
            results["sync"].append(timed_change(
                port, "/index.html", str(i),
                lambda i=i: (project / "web" / "www" / "index.html").write_text(f"{i}\n")))
            results["sync_restart"].append(timed_change(
                port, "/greeting.txt", str(i),
                lambda i=i: (project / "web" / "conf" / "greeting").write_text(f"{i}\n")))
            results["rebuild"].append(timed_change(
                port, "/build.txt", str(i),
                lambda i=i: (project / "web" / "Dockerfile").write_text(
                    DOCKERFILE.format(build=i))))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    result = {"machine": machine(), "rounds": args.rounds,
              "first_deploy_s (cluster start, build, rollout)": first,
              "load_average": os.getloadavg()[0],
              "change_to_serving_s": results,
              "medians_s": {k: statistics.median(v) for k, v in results.items()}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
