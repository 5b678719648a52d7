"""Soak benchmark of the built-in cluster: hours of steady work, with watches held open.

A fresh cluster (its own KOMPY_HOME) runs for ``--minutes`` (default 60) while stock kubectl,
in its own processes as a user runs it:

- holds ``--watches`` watches open the whole time (``kubectl get cm -A -w``,
  ``get pods -w``, ``get deploy -w``: kubectl asks for no bookmarks, the case that once spun
  the daemon), and every few minutes drops one with SIGKILL and opens another;
- every ``--period`` seconds does one step of a steady cycle: ``apply`` a Deployment
  (kompy/busybox:1, 1-3 replicas, a new template every few cycles: a rollout), ``scale``
  it, ``apply`` a ConfigMap with new data (~20 KiB), and now and then ``delete`` both.

Every ``--sample`` seconds it records the daemon's CPU (utime+stime since the last sample,
% of one core), RSS, threads, open files, and the size of store.db and its WAL, with the
machine's load average. The result (every sample, and per metric a least-squares slope
per hour over the samples after the first ``--warmup`` minutes, plus first/last quarter
means) goes to benchmarks/results/soak.json.

    nice python3 benchmarks/bench_soak.py [--minutes N]

``--fast`` does the same work ten times as often (a step a second, a watch swapped every
18 s): a leak that takes an hour to show shows in minutes (results to soak-fast.json; the
figures are not those of the hour, the watch cache holds ten times the changes of its five
minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results" / "soak.json"
NAMESPACE = "soak"
IMAGE = "kompy/busybox:1"
WATCHES = (["get", "cm", "-A", "-w"], ["get", "pods", "-n", NAMESPACE, "-w"],
           ["get", "deploy", "-A", "-w"])
CLK_TCK = os.sysconf("SC_CLK_TCK")
METRICS = ("cpu_percent", "rss_mib", "rss_anon_mib", "threads", "open_files", "store_mib",
           "wal_mib", "event_objects", "log_entries")


def deployment(replicas: int, version: int) -> dict[str, Any]:
    labels = {"app": "soak"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "soak", "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "web", "image": IMAGE,
                                         "command": ["httpd", "-f", "-p", "8080"],
                                         "env": [{"name": "VERSION", "value": str(version)}]}]}}}}


def configmap(cycle: int) -> dict[str, Any]:
    # ~20 KiB of data that changes every cycle: the event log and the WAL grow with each
    # write, so compaction and checkpoints must keep them flat.
    blob = (f"{cycle:08d}" * 2560)[:20480]
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "soak-config", "namespace": NAMESPACE},
            "data": {"cycle": str(cycle), "blob": blob}}


@dataclass
class Daemon:
    """Reads the daemon's figures from /proc and its state folder."""

    pid: int
    state_dir: Path
    last_ticks: int = 0
    last_time: float = 0.0

    def ticks(self) -> int:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def sample(self) -> dict[str, float]:
        now, ticks = time.monotonic(), self.ticks()
        cpu = 100.0 * (ticks - self.last_ticks) / CLK_TCK / max(now - self.last_time, 1e-6)
        self.last_ticks, self.last_time = ticks, now
        status = dict(line.split(":", 1) for line in
                      Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line)
        return {
            "cpu_percent": round(cpu, 2),
            "rss_mib": round(int(status["VmRSS"].split()[0]) / 1024, 1),
            # Anonymous memory: the heap, without the mapped files (libraries, the store).
            "rss_anon_mib": round(int(status["RssAnon"].split()[0]) / 1024, 1),
            "threads": int(status["Threads"]),
            "open_files": len(os.listdir(f"/proc/{self.pid}/fd")),
            "store_mib": round(_size(self.state_dir / "store.db") / 2**20, 2),
            "wal_mib": round(_size(self.state_dir / "store.db-wal") / 2**20, 2),
            **_counts(self.state_dir / "store.db"),
        }


def _counts(store: Path) -> dict[str, int]:
    """Events (kept an hour, as kube-apiserver's --event-ttl: the store grows with them for
    the first hour) and the event log's entries (compacted to ~5 minutes), read from the
    store file without asking the daemon."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        events = db.execute("SELECT count(*) FROM objects WHERE resource = 'events'")
        entries = db.execute("SELECT count(*) FROM events")
        return {"event_objects": events.fetchone()[0], "log_entries": entries.fetchone()[0]}
    except sqlite3.Error:
        return {}
    finally:
        db.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@dataclass
class Soak:
    kubeconfig: Path
    work: Path
    rng: random.Random
    watches: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cycle: int = 0
    version: int = 0
    replicas: int = 1
    exists: bool = False
    failures: list[str] = field(default_factory=list)
    commands: int = 0
    watch_restarts: int = 0

    def kubectl(self, *args: str, stdin: str | None = None) -> None:
        self.commands += 1
        done = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                              input=stdin, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            self.failures.append(f"kubectl {' '.join(args)}: {done.stderr.strip()[-200:]}")

    def open_watch(self, index: int) -> subprocess.Popen[bytes]:
        args = WATCHES[index % len(WATCHES)]
        return subprocess.Popen(["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def hold_watches(self, count: int) -> None:
        self.watches = [self.open_watch(i) for i in range(count)]

    def replace_a_watch(self) -> None:
        """An abandoned watch (its client killed) and a new one in its place."""
        index = self.rng.randrange(len(self.watches))
        self.watches[index].send_signal(signal.SIGKILL)
        self.watches[index].wait()
        self.watches[index] = self.open_watch(index)
        self.watch_restarts += 1

    def step(self) -> None:
        """One step of the steady cycle."""
        self.cycle += 1
        if not self.exists or self.cycle % 3 == 0:
            if self.cycle % 4 == 0:
                self.version += 1
            self.replicas = self.rng.randint(1, 3)
            self.apply(deployment(self.replicas, self.version))
            self.exists = True
        else:
            self.replicas = self.rng.choice([n for n in (1, 2, 3) if n != self.replicas])
            self.kubectl("scale", "deploy/soak", "-n", NAMESPACE, f"--replicas={self.replicas}")
        self.apply(configmap(self.cycle))
        if self.cycle % 10 == 0:
            self.kubectl("delete", "deploy/soak", "cm/soak-config", "-n", NAMESPACE,
                         "--wait=false")
            self.exists = False

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def close(self) -> None:
        for watch in self.watches:
            watch.send_signal(signal.SIGKILL)
            watch.wait()


def log_counts(state_dir: Path) -> dict[str, int]:
    """What the daemon's log says about the run: informers that had to list again (their
    watch expired: 410 Gone), and tracebacks."""
    text = "".join(p.read_text(errors="replace") for p in sorted(state_dir.glob("daemon.log*")))
    return {"informer_relists": text.count("listing again"),
            "tracebacks": text.count("Traceback (most recent call last)"),
            "lines": text.count("\n")}


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return round(3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var, 3)


def trends(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Per metric: slope per hour after the warm-up, and the means of the first and last
    quarter of those samples (flat: a slope near 0 and two close means)."""
    steady = [s for s in samples if s["t_s"] >= warmup_s]
    quarter = max(1, len(steady) // 4)
    out: dict[str, Any] = {}
    for metric in METRICS:
        values = [s[metric] for s in steady if metric in s]
        if not values:
            continue
        out[metric] = {
            "slope_per_hour": slope_per_hour([(s["t_s"], s[metric]) for s in steady
                                              if metric in s]),
            "first_quarter_mean": round(statistics.fmean(values[:quarter]), 2),
            "last_quarter_mean": round(statistics.fmean(values[-quarter:]), 2),
            "min": min(values), "max": max(values),
        }
    return out


def run(minutes: float, watches: int, period: float, sample_every: float, warmup_min: float,
        seed: int, swap_every: float = 180.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kompy-soak-") as tmp:
        home = Path(tmp)
        os.environ["KOMPY_HOME"] = str(home)
        os.environ.setdefault("KOMPY_INGRESS_PORTS", "off")
        from kompy.cluster.daemon import process
        from kompy.cluster.daemon.state import cluster_state

        name = f"soak{uuid.uuid4().hex[:6]}"
        client = process.ensure_cluster(name)
        state = cluster_state(name)
        client.create({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": NAMESPACE}})
        daemon = Daemon(int(state.pid_file.read_text()), state.dir)
        soak = Soak(state.kubeconfig, home, random.Random(seed))
        samples: list[dict[str, Any]] = []
        try:
            soak.hold_watches(watches)
            started = time.monotonic()
            daemon.sample()
            next_sample, next_step = started + sample_every, started
            next_watch_swap = started + swap_every
            end = started + minutes * 60
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_step:
                    soak.step()
                    next_step += period
                if now >= next_watch_swap:
                    soak.replace_a_watch()
                    next_watch_swap += swap_every
                if now >= next_sample:
                    sample = {"t_s": round(now - started, 1), **daemon.sample(),
                              "load_1m": round(os.getloadavg()[0], 2),
                              "cycles": soak.cycle}
                    samples.append(sample)
                    print(json.dumps(sample), flush=True)
                    next_sample += sample_every
                time.sleep(max(0.0, min(next_step, next_sample, next_watch_swap)
                               - time.monotonic()))
            logs = log_counts(state.dir)
        finally:
            soak.close()
            process.reset(name)
    return {
        "minutes": minutes, "watches_held": watches, "step_period_s": period,
        "watch_swap_every_s": swap_every,
        "sample_every_s": sample_every, "warmup_min": warmup_min, "seed": seed,
        "cycles": soak.cycle, "kubectl_commands": soak.commands,
        "watches_killed_and_reopened": soak.watch_restarts,
        "kubectl_failures": len(soak.failures), "failures": soak.failures[:20],
        "daemon_log": logs,
        "trends": trends(samples, warmup_min * 60), "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--watches", type=int, default=20,
                        help="kubectl watches held open (default 20)")
    parser.add_argument("--period", type=float, default=10.0,
                        help="seconds between two steps of the cycle")
    parser.add_argument("--sample", type=float, default=30.0,
                        help="seconds between two samples")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="minutes left out of the slopes (the store and caches fill)")
    parser.add_argument("--swap", type=float, default=180.0,
                        help="seconds between two watches killed and reopened")
    parser.add_argument("--fast", action="store_true",
                        help="the same work ten times as often (a step a second, a watch "
                             "swapped every 18 s, a sample every 10 s): to find a leak in "
                             "minutes, not hours; results to soak-fast.json")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.fast:
        args.period, args.swap, args.sample = args.period / 10, args.swap / 10, 10.0
        if args.out == RESULTS:
            args.out = RESULTS.with_name("soak-fast.json")
    started = time.time()
    result = run(args.minutes, args.watches, args.period, args.sample,
                 min(args.warmup, args.minutes / 4), args.seed, args.swap)
    result["machine"] = machine()
    result["wall_s"] = round(time.time() - started, 1)
    result["load_average_at_end"] = os.getloadavg()
    save(args.out, result)


if __name__ == "__main__":
    main()
