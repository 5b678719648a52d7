"""Benchmark: the daemon's CPU with many stock-kubectl watches held, then abandoned.

Issue #12, item 1: ``kubectl get cm -A -w`` asks for no bookmarks, and 30 s into such a
watch the daemon used to spin at 100 % of a core (127 % with 50 abandoned watches). On a
fresh cluster this script measures the daemon's CPU (utime + stime, % of one core) and
threads:

1. idle, for ``--seconds``;
2. while ``--watches`` ``kubectl get cm -A -w`` run, for ``--hold`` seconds (past the 30 s
   that used to start the spin);
3. after every kubectl is killed with SIGKILL (abandoned watches: no goodbye, the sockets
   just close): how long until the daemon holds none of their connections, then its CPU
   for ``--seconds``.

Writes benchmarks/results/watches.json. Run: ``nice python3 benchmarks/bench_watches.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results" / "watches.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def cpu_percent(pid: int, seconds: float) -> float:
    """The daemon's CPU over the next ``seconds``, in % of one core."""
    start, ticks = time.monotonic(), cpu_ticks(pid)
    time.sleep(seconds)
    return round(100.0 * (cpu_ticks(pid) - ticks) / CLK_TCK / (time.monotonic() - start), 2)


def connections(port: int) -> int:
    """TCP connections to the API server's port, its side of them, in any state but
    listening (CLOSE-WAIT included: a client gone whose socket the daemon still holds)."""
    out = subprocess.run(["ss", "-Htn", "state", "connected", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def run(watches: int, hold: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kompy-watches-") as tmp:
        os.environ["KOMPY_HOME"] = tmp
        os.environ.setdefault("KOMPY_INGRESS_PORTS", "off")
        from kompy.cluster.daemon import process
        from kompy.cluster.daemon.state import cluster_state

        name = f"watches{uuid.uuid4().hex[:6]}"
        process.ensure_cluster(name)
        state = cluster_state(name)
        pid = int(state.pid_file.read_text())
        api = json.loads(state.api_file.read_text())
        port = int(str(api["url"]).rsplit(":", 1)[1].strip("/"))
        kubectls: list[subprocess.Popen[bytes]] = []
        try:
            time.sleep(5)                              # the runtime settles after its start
            idle = cpu_percent(pid, seconds)
            idle_threads = threads(pid)
            kubectls = [subprocess.Popen(
                ["kubectl", "--kubeconfig", str(state.kubeconfig), "get", "cm", "-A", "-w"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(watches)]
            deadline = time.monotonic() + 60
            while connections(port) < watches and time.monotonic() < deadline:
                time.sleep(0.2)
            held_connections = connections(port)
            held = cpu_percent(pid, hold)
            held_threads = threads(pid)
            for k in kubectls:
                k.send_signal(signal.SIGKILL)
            for k in kubectls:
                k.wait()
            killed = time.monotonic()
            while connections(port) and time.monotonic() - killed < 120:
                time.sleep(0.05)
            freed_s = round(time.monotonic() - killed, 2)
            left = connections(port)
            after = cpu_percent(pid, seconds)
            after_threads = threads(pid)
        finally:
            for k in kubectls:
                if k.poll() is None:
                    k.kill()
            process.reset(name)
    return {"watches": watches, "connections_held": held_connections,
            "cpu_percent_idle": idle, "cpu_percent_held": held,
            "cpu_percent_after_abandoned": after,
            "seconds_until_abandoned_connections_closed": freed_s,
            "connections_left": left,
            "threads": {"idle": idle_threads, "held": held_threads, "after": after_threads},
            "hold_s": hold, "measure_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=50)
    parser.add_argument("--hold", type=float, default=70.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = run(args.watches, args.hold, args.seconds)
    result["machine"] = machine()
    result["load_average"] = os.getloadavg()
    save(args.out, result)


if __name__ == "__main__":
    main()
