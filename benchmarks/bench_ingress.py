"""Benchmark of the built-in cluster's Ingress beside the same requests without it.

One pod of the Ingress sample's echo server (samples/ingress/echo, Python's http.server with
HTTP/1.1 keep-alive) answers the same GET every time, reached four ways in the same run:

1. straight to the pod (its IP on the namespace's Docker network);
2. through the Service proxy (a LoadBalancer port on 127.0.0.1: the userspace TCP relay);
3. through the Ingress over HTTP (Host header routing, kept-alive backend connections);
4. through the Ingress over HTTPS (TLS terminated at the Ingress, edge).

Each is measured with wrk (Debian's package: ``apt-get install wrk``) over keep-alive
connections on loopback, at 1 connection (the latency a request pays) and at
``--connections`` (throughput under load), for ``--seconds`` each, the four targets taken in
turn and the whole repeated ``--rounds`` times with the order rotated. Everything runs on
this machine: the numbers include wrk and the backend competing with the proxy for the same
cores, the same way for every target.

Writes benchmarks/results/ingress.json. Run: ``python3 benchmarks/bench_ingress.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "ingress.json"
IMAGE = "ingress-echo:1"
HOST = "bench.local"
TARGETS = ("pod", "service-proxy", "ingress-http", "ingress-https")


def objects(lb_port: int) -> list[dict[str, Any]]:
    labels = {"app": "echo"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "echo", "namespace": "default"},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "echo", "image": IMAGE,
                                      "ports": [{"name": "http", "containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                                         "periodSeconds": 1}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "echo", "namespace": "default"},
         "spec": {"type": "LoadBalancer", "selector": labels,
                  "ports": [{"name": "http", "port": lb_port, "targetPort": "http"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "echo", "namespace": "default"},
         "spec": {"tls": [{"hosts": [HOST], "secretName": "bench-tls"}],
                  "rules": [{"host": HOST, "http": {"paths": [{
                      "path": "/", "pathType": "Prefix", "backend": {"service": {
                          "name": "echo", "port": {"name": "http"}}}}]}}]},
         },
    ]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _field(pattern: str, out: str) -> str:
    """The first group of ``pattern`` in wrk's report; an error naming it when wrk's output
    lacks it (another wrk version)."""
    found = re.search(pattern, out)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{out}")
    return found.group(1)


def wrk(url: str, connections: int, seconds: float, host_header: bool) -> dict[str, Any]:
    """Requests per second and latency percentiles (ms) of one wrk run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s", url]
    if host_header:
        command[1:1] = ["-H", f"Host: {HOST}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found: dict[str, Any] = {"rps": float(_field(r"Requests/sec:\s+([\d.]+)", out))}
    for pct in ("50", "99"):
        found[f"p{pct}_ms"] = round(_ms(_field(rf"\s{pct}%\s+(\S+)", out)), 3)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    found["errors"] = errors.group(0) if errors else ""
    return found


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    sys.path.insert(0, str(ROOT))
    import docker

    from kompy.cluster.daemon import process as daemon
    from kompy.cluster.ingress.certcmd import issue_secret
    from kompy.cluster.ingress.ports import read_state

    docker.from_env().images.build(path=str(ROOT / "samples" / "ingress" / "echo"),
                                   tag=IMAGE, rm=True)
    home = tempfile.mkdtemp(prefix="kompy-bench-ingress-")
    os.environ["KOMPY_HOME"] = home
    os.environ["KOMPY_INGRESS_PORTS"] = "0,0"
    name = f"bi{uuid.uuid4().hex[:6]}"
    rounds: list[dict[str, Any]] = []
    try:
        client = daemon.ensure_cluster(name)
        state = Path(home) / name
        lb_port = free_port()
        issue_secret(client, state, [HOST], "default", "bench-tls")
        for obj in objects(lb_port):
            client.apply(obj)
        deadline = time.monotonic() + 120
        pod_ip = None
        while time.monotonic() < deadline and pod_ip is None:
            for pod in client.list("pods", "default")["items"]:
                conditions = (pod.get("status") or {}).get("conditions") or []
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    pod_ip = pod["status"]["podIP"]
            time.sleep(0.2)
        if pod_ip is None:
            raise SystemExit("the echo pod did not get ready")
        ports = read_state(state)
        urls = {"pod": (f"http://{pod_ip}:8080/", False),
                "service-proxy": (f"http://127.0.0.1:{lb_port}/", False),
                "ingress-http": (f"http://127.0.0.1:{ports['http']}/", True),
                "ingress-https": (f"https://127.0.0.1:{ports['https']}/", True)}
        # ssl-redirect off for the plain-HTTP measurement (the host has TLS).
        client.patch("ingresses", "echo", "default", {"metadata": {"annotations": {
            "nginx.ingress.kubernetes.io/ssl-redirect": "false"}}})
        for url, header in urls.values():  # warm up every path (and wait for the routes)
            for _ in range(50):
                done = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                       *(["-H", f"Host: {HOST}"] if header else []), url],
                                      capture_output=True, text=True)
                if done.stdout == "200":
                    break
                time.sleep(0.2)
            else:
                raise SystemExit(f"{url} does not answer 200")
        for number in range(args.rounds):
            order = TARGETS[number % 4:] + TARGETS[:number % 4]
            entry: dict[str, Any] = {"round": number + 1, "order": list(order),
                                     "load_average": load_average()}
            for target in order:
                url, header = urls[target]
                entry[target] = {
                    "c1": wrk(url, 1, args.seconds, header),
                    f"c{args.connections}": wrk(url, args.connections, args.seconds, header)}
            rounds.append(entry)
            print(f"round {number + 1}: " + ", ".join(
                f"{t} {entry[t]['c1']['p50_ms']} ms / {entry[t][f'c{args.connections}']['rps']:.0f}"
                " req/s" for t in TARGETS), file=sys.stderr)
    finally:
        daemon.reset(name)
        shutil.rmtree(home, ignore_errors=True)

    def median(target: str, load: str, key: str) -> float:
        return round(float(statistics.median(r[target][load][key] for r in rounds)), 3)

    many = f"c{args.connections}"
    summary = {t: {"c1_p50_ms": median(t, "c1", "p50_ms"), "c1_p99_ms": median(t, "c1", "p99_ms"),
                   "c1_rps": median(t, "c1", "rps"), f"{many}_rps": median(t, many, "rps"),
                   f"{many}_p50_ms": median(t, many, "p50_ms"),
                   f"{many}_p99_ms": median(t, many, "p99_ms")} for t in TARGETS}
    for target in TARGETS[1:]:
        summary[target]["c1_p50_overhead_ms"] = round(
            summary[target]["c1_p50_ms"] - summary["pod"]["c1_p50_ms"], 3)
    save(RESULTS, {"benchmark": "ingress", "machine": machine(), "seconds": args.seconds,
                   "connections": args.connections, "summary": summary, "rounds": rounds,
                   "note": "medians over rounds; wrk -t1 over keep-alive connections on "
                           "loopback; c1 = one connection (latency), "
                           f"{many} = {args.connections} connections (throughput)"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
