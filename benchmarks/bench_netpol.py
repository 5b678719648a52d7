"""Benchmark of NetworkPolicy enforcement: what one rebuild costs as a cluster grows.

The controller recompiles every policy and replaces the cluster's chains on each change
(kompy/cluster/netpol). This measures, for 30, 100 and 300 pods in 10 apps (the shape
``kompy convert --network-policies`` writes: a default deny for the project, one policy per
Compose network admitting its own pods, a published-port policy per app), in the same run:

1. compiling the policies (pure Python);
2. rendering the chains;
3. applying them with ``iptables-restore --noflush`` on this host (a benchmark-only chain
   prefix and pod IPs of 10.254.0.0/16 that no container has; removed at the end), beside
   the floor: a batch declaring one empty chain, i.e. the cost of the commands themselves;
4. one ``permits`` question, what the Service proxy asks per relayed connection.

Medians of ``--rounds``. Needs root and iptables. Writes benchmarks/results/netpol.json.
Run: ``python3 benchmarks/bench_netpol.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from machine import machine, save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kompy.cluster.netpol.iptables import Iptables  # noqa: E402
from kompy.cluster.netpol.model import PolicyModel, compile_policies  # noqa: E402
from kompy.cluster.netpol.rules import Chains, render  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "netpol.json"
PREFIX = "KOMPY-NP-BENCH000"
APPS = 10


def cluster(pods: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                list[dict[str, Any]]]:
    objs: list[dict[str, Any]] = []
    for i in range(pods):
        app = f"app{i % APPS}"
        objs.append({"metadata": {"name": f"p{i}", "namespace": "bench", "labels": {
            "app": app, "part-of": "bench", f"net/{i % APPS // 2}": "true"}},
            "spec": {"containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": f"10.254.{i // 250}.{i % 250 + 2}", "phase": "Running"}})
    policies: list[dict[str, Any]] = [{"metadata": {"name": "deny", "namespace": "bench"},
                                       "spec": {"podSelector": {"matchLabels": {
                                           "part-of": "bench"}}}}]
    for net in range(APPS // 2):
        label = {f"net/{net}": "true"}
        policies.append({"metadata": {"name": f"net{net}", "namespace": "bench"}, "spec": {
            "podSelector": {"matchLabels": label},
            "ingress": [{"from": [{"podSelector": {"matchLabels": label}}]}]}})
    for number in range(APPS):
        policies.append({"metadata": {"name": f"pub{number}", "namespace": "bench"}, "spec": {
            "podSelector": {"matchLabels": {"app": f"app{number}"}},
            "ingress": [{"ports": [{"port": "http"}]}]}})
    return objs, [{"metadata": {"name": "bench"}}], policies


def median_ms(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def apply_and_remove(firewall: Iptables, chains: Chains) -> None:
    firewall.apply(chains)
    firewall.remove()


def ask_1000(model: PolicyModel, source: str, target: str) -> None:
    for _ in range(1000):
        model.permits(source, target, "TCP", 8080)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    firewall = Iptables(PREFIX)
    reason = firewall.unavailable()
    if reason:
        sys.exit(f"cannot measure: {reason}")
    out: dict[str, Any] = {"machine": machine(), "load_average": os.getloadavg(), "sizes": {}}
    try:
        out["floor_apply_and_remove_ms"] = median_ms(
            args.rounds, partial(apply_and_remove, firewall, {PREFIX: []}))
        for pods in (30, 100, 300):
            objs, spaces, policies = cluster(pods)
            model = compile_policies(objs, spaces, policies)
            chains = render(model, PREFIX, ["10.254.0.0/16"])
            ip_a, ip_b = objs[0]["status"]["podIP"], objs[-1]["status"]["podIP"]
            permits_us = median_ms(args.rounds, partial(ask_1000, model, ip_a, ip_b))
            out["sizes"][pods] = {
                "rules": sum(len(r) for r in chains.values()),
                "compile_ms": median_ms(args.rounds, partial(compile_policies, objs, spaces,
                                                             policies)),
                "render_ms": median_ms(args.rounds, partial(render, model, PREFIX,
                                                            ["10.254.0.0/16"])),
                "apply_and_remove_ms": median_ms(args.rounds, partial(apply_and_remove,
                                                                      firewall, chains)),
                "permits_us": permits_us,  # 1000 questions took this many ms = µs each
            }
    finally:
        firewall.remove()
    save(RESULTS, out)


if __name__ == "__main__":
    main()
