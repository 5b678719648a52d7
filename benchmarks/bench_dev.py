"""Benchmark of ``kompy dev``: from saving a file to the new content being served.

Runs the real ``kompy dev`` on a copy of ``samples/devloop`` (kompy/busybox:1 serving files
with ``httpd``), three times on the same built-in cluster in the same run (SESSIONS):

- ``builtin``: as ``kompy dev`` runs there by default (its extras on: the published port
  served by the cluster's proxy on 127.0.0.1, in-place restarts; syncs through the API's
  exec): ``sync``, ``sync+restart`` and ``rebuild`` edits;
- ``standard``: the same with ``--no-builtin-extras``, as on any other cluster: the page
  reached through kompy's port-forward over the API, syncs through the API's exec, a
  rebuild rolled to new pods: ``sync`` and ``rebuild`` edits;
- ``engine``: the built-in cluster's opt-in sync shortcut (``KOMPY_DEV_SYNC=engine``, the
  engine's archive copy): ``sync`` edits.

Then, with that cluster gone, its peers make the same ``rebuild`` edits on the same engine
(dev_peers.py): ``compose``, ``docker-compose up -d --build`` after each edit, and
``floor``, the build and a new container by bare Docker API calls: the engine's share of
any tool's rebuild.

``--rounds`` edits of each kind, each measured from the file write to the first HTTP answer
with the new content (requests every 20 ms); medians and 95th percentiles, with the load
average before and after each session. Every rebuild writes a number never built before
(``fresh_values``): none is served from the engine's layer cache. Writes
benchmarks/results/dev.json. Run: ``python3 benchmarks/bench_dev.py [--rounds 20]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from dev_peers import compose_rebuilds, edited_dockerfile, floor_rebuilds
from machine import machine, save
from waiting import fetch

RESULTS = Path(__file__).resolve().parent / "results" / "dev.json"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "devloop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> str | None:
    return fetch(f"http://127.0.0.1:{port}{path}")


def until(port: int, path: str, wanted: str, dev: subprocess.Popen[str],
          output: list[str], timeout: float = 300.0) -> float:
    """Seconds until GET path answers ``wanted``; stops at once, with the session's
    output, when ``kompy dev`` has exited (rather than waiting out the timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if get(port, path) == wanted:
            return time.monotonic() - start
        if dev.poll() is not None:
            raise SystemExit(f"kompy dev exited with {dev.returncode} before {path} answered "
                             f"{wanted!r}:\n{''.join(output[-20:])}")
        time.sleep(0.02)
    raise SystemExit(f"{path} never answered {wanted!r} within {timeout} s:\n"
                     f"{''.join(output[-20:])}")


def default_sigint() -> None:
    """The session's SIGINT is Ctrl-C even when this benchmark runs as a background job of
    a non-interactive shell, which starts its children with SIGINT ignored (a preexec_fn):
    otherwise every session would outlive its Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def timed_change(port: int, path: str, wanted: str, write: Any,
                 dev: subprocess.Popen[str], output: list[str]) -> float:
    start = time.monotonic()
    write()
    until(port, path, wanted, dev, output)
    return round(time.monotonic() - start, 3)


def fresh_values(count: int) -> range:
    """``count`` build numbers never used before: a ``RUN echo N`` built in an earlier run
    is in the engine's layer cache (kompy keeps its last content tags, and kompy before
    9a92671 every build step), and a cached rebuild skips the step's container, about half
    of a real rebuild's time."""
    first = random.randrange(10_000, 90_000) * 100
    return range(first, first + count)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# The sessions of one run, on the same cluster: (name, kompy dev flags, environment,
# which kinds of edit). "builtin" is the built-in cluster as kompy dev uses it by default
# (extras on: the proxy serves the published port on 127.0.0.1, in-place restarts; syncs
# through the API's exec); "standard" is the same cluster with the extras off, as any other
# cluster is used (published port through kompy's port-forward over the API, restarts by
# new pods, syncs through the API's exec); "engine" is the opt-in shortcut (the engine's
# archive copy instead of exec).
SESSIONS: tuple[tuple[str, tuple[str, ...], dict[str, str], tuple[str, ...]], ...] = (
    ("builtin", (), {}, ("sync", "sync_restart", "rebuild")),
    ("standard", ("--no-builtin-extras",), {}, ("sync", "rebuild")),
    ("engine", (), {"KOMPY_DEV_SYNC": "engine"}, ("sync",)),
)


PEERS = ("compose", "floor")


def peers(project: Path, rounds: int, results: dict[str, list[float]]) -> dict[str, Any]:
    """The same rebuild edits without kompy, after its sessions (their cluster gone), on
    the same engine: ``docker-compose up -d --build``, and the engine's floor (dev_peers)."""
    out: dict[str, Any] = {}
    for name in PEERS:
        load_before = os.getloadavg()[0]
        if name == "compose":
            if shutil.which("docker-compose") is None:
                out[name] = {"skipped": "docker-compose is not installed"}
                continue
            results["rebuild_compose"] = compose_rebuilds(project, free_port(),
                                                          list(fresh_values(rounds)))
            version = subprocess.run(["docker-compose", "version", "--short"],
                                     capture_output=True, text=True).stdout.strip()
            out[name] = {"tool": f"docker-compose {version}: up -d --build after each edit"}
        else:
            results["rebuild_floor"] = floor_rebuilds(project, list(fresh_values(rounds)))
            out[name] = {"tool": "bare Docker API calls: build, create, start, inspect"}
        out[name]["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return out


def session(project: Path, env: dict[str, str], flags: tuple[str, ...], kinds: tuple[str, ...],
            rounds: int, name: str, results: dict[str, list[float]]) -> dict[str, Any]:
    """One ``kompy dev`` session on a fresh published port; its first deploy's seconds and
    the load average before and after."""
    port = free_port()
    compose = project / "compose.yaml"
    compose.write_text(re.sub(r'"\d+:8000"', f'"{port}:8000"', compose.read_text()))
    www = project / "web" / "www" / "index.html"
    greeting = project / "web" / "conf" / "greeting"
    dockerfile = project / "web" / "Dockerfile"
    original = dockerfile.read_text()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev", "--no-logs", *flags],
                            cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=default_sigint)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()
    try:
        until(port, "/index.html", www.read_text().strip(), proc, lines)
        first = round(time.monotonic() - started, 2)
        while not any("watching" in line for line in lines):
            if proc.poll() is not None:
                raise SystemExit(f"kompy dev exited with {proc.returncode}:\n"
                                 f"{''.join(lines[-20:])}")
            time.sleep(0.05)
        # The edits of a kind in a row: the first sync into a new pod starts its helper
        # (one exec, about 0.1-0.2 s), and a restart or a rebuild makes a new one.
        for i in range(1, rounds + 1):
            value = f"{name}-{i}"
            results[f"sync_{name}"].append(timed_change(
                port, "/index.html", value, lambda v=value: www.write_text(f"{v}\n"),
                proc, lines))
        if "sync_restart" in kinds:
            for i in range(1, rounds + 1):
                results[f"sync_restart_{name}"].append(timed_change(
                    port, "/greeting.txt", f"{name}{i}",
                    lambda i=i: greeting.write_text(f"{name}{i}\n"), proc, lines))
        if "rebuild" in kinds:
            for i in fresh_values(rounds):
                results[f"rebuild_{name}"].append(timed_change(
                    port, "/build.txt", str(i),
                    lambda i=i: dockerfile.write_text(edited_dockerfile(original, i)),
                    proc, lines))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            # Once seen (7 December): say what the session was doing, rather than a bare
            # timeout, and do not leave it running.
            stacks = _stacks(proc.pid, Path(env["KOMPY_HOME"]) / env["KOMPY_CLUSTER"])
            proc.kill()
            log = Path(env["KOMPY_HOME"]) / env["KOMPY_CLUSTER"] / "daemon.log"
            tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
            raise SystemExit(f"kompy dev {' '.join(flags)} was still running 120 s after its "
                             f"Ctrl-C:\n{''.join(lines[-40:])}\nthe daemon's log:\n"
                             + "\n".join(tail) + stacks) from None
    return {"first_deploy_s": first,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def _stacks(dev_pid: int, cluster_dir: Path) -> str:
    """Every thread's stack of the hung session and of the cluster's daemon, when py-spy
    (``pip install py-spy``) is at hand: where each waits, which the output cannot say."""
    if shutil.which("py-spy") is None:
        return "\n(install py-spy for the stacks of kompy dev and the daemon)"
    pids = [("kompy dev", str(dev_pid))]
    pidfile = cluster_dir / "daemon.pid"
    if pidfile.exists():
        pids.append(("the daemon", pidfile.read_text().split()[0]))
    return "".join(f"\n{name}'s threads:\n" + subprocess.run(
        ["py-spy", "dump", "--pid", pid], capture_output=True, text=True).stdout
        for name, pid in pids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kompy-devbench-"))
    home = folder / "home"
    project = folder / "devloop"
    shutil.copytree(SAMPLE, project)
    (project / "web" / "www" / "index.html").write_text("0\n")
    (project / "web" / "conf" / "greeting").write_text("0\n")
    env = {**os.environ, "KOMPY_HOME": str(home),
           "KOMPY_CLUSTER": f"devbench{uuid.uuid4().hex[:6]}", "PYTHONUNBUFFERED": "1"}
    results: dict[str, list[float]] = {}
    for name, _flags, _env, kinds in SESSIONS:
        for kind in kinds:
            results[f"{kind}_{name}"] = []
    sessions: dict[str, Any] = {}
    try:
        for name, flags, extra_env, kinds in SESSIONS:
            sessions[name] = session(project, {**env, **extra_env}, flags, kinds,
                                     args.rounds, name, results)
        # The peers run with the cluster gone, so its daemon does not share the engine and
        # the cores with them (the reset below is then a no-op).
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True)
        sessions.update(peers(project, args.rounds, results))
    finally:
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    result = {"machine": machine(), "rounds": args.rounds,
              "sessions": {**{name: {"flags": list(flags), "env": extra_env,
                                     **sessions[name]}
                              for name, flags, extra_env, _ in SESSIONS},
                           **{name: sessions[name] for name in PEERS}},
              "medians_s": {k: statistics.median(v) for k, v in results.items()},
              "p95_s": {k: p95(v) for k, v in results.items()},
              "change_to_serving_s": results}
    save(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
