"""The authorizer's cost per request: API latency with RBAC on and off, in the same run.

Two API servers in this process over the same kind of store (SQLite in a temp folder), one
with the RBAC authorizer (the daemon's) and one that allows every authenticated user
(kompy before RBAC), each holding the same objects and the same RBAC data: a namespace's
pods and ConfigMaps, and ``--bindings`` RoleBindings spread over other namespaces plus a
tenth as many ClusterRoleBindings, as a shared cluster has. Requests are made over HTTP
keep-alive by two users: the admin (system:masters, allowed before RBAC looks) and a
ServiceAccount whose token is checked and whose RoleBinding gives it ``edit`` in the
namespace (every request walks the bindings). Each request is made to both servers back to
back (in alternating order), so the machine's load weighs on both alike, and the median of
those paired differences is the cost. Also timed: one ``authorize()`` call alone, answered
from the decision cache and worked out afresh.

    python benchmarks/bench_rbac.py [--requests 500] [--bindings 200]

Writes benchmarks/results/rbac.json (with the machine and its load average).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

# benchmarks/machine.py: run as a script, this folder is on the path.
from machine import machine, save

RESULTS = Path(__file__).resolve().parent / "results" / "rbac.json"

RBAC = "rbac.authorization.k8s.io"
NS = "bench"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def populate(admin: Any, bindings: int) -> None:
    admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    admin.create({"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": "ci", "namespace": NS}})
    for i in range(20):
        admin.create({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": f"cm-{i}", "namespace": NS},
                      "data": {"k": "x" * 200}})
    others = max(1, bindings // 20)
    for n in range(others):
        admin.create({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": f"team-{n}"}})
    for i in range(bindings):
        binding(admin, f"team-{i % others}", f"rb-{i}", "view",
                {"kind": "User", "name": f"user-{i}"})
    for i in range(bindings // 10):
        admin.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding",
                      "metadata": {"name": f"crb-{i}"},
                      "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
                      "subjects": [{"kind": "Group", "name": f"group-{i}"}]})
    binding(admin, NS, "ci-edit", "edit",
            {"kind": "ServiceAccount", "name": "ci", "namespace": NS})
    aggregate(admin)


def binding(admin: Any, ns: str, name: str, role: str, subject: dict[str, str]) -> None:
    admin.create({"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                  "metadata": {"name": name, "namespace": ns},
                  "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
                  "subjects": [subject]})


def aggregate(admin: Any) -> None:
    """What the aggregation controller does (no runtime here)."""
    from kompy.cluster.controllers.clusterroles import aggregated_rules
    for role in ("view", "edit", "admin"):
        current = admin.get("clusterroles", role)
        admin.patch("clusterroles", role, None,
                    {"rules": aggregated_rules(current, admin.list("clusterroles")["items"])})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--bindings", type=int, default=200)
    args = parser.parse_args()
    from kompy.client import KubeClient
    from kompy.cluster.apiserver import authz
    from kompy.cluster.apiserver.server import ApiServer
    from kompy.cluster.store.sqlite import Store

    folder = Path(tempfile.mkdtemp(prefix="kompy-bench-rbac-"))
    servers = {"rbac on": ApiServer(Store(folder / "on.db"), "admin").start(),
               "rbac off": ApiServer(Store(folder / "off.db"), "admin",
                                     authorizer=authz.AllowAuthenticated()).start()}
    clients: dict[tuple[str, str], Any] = {}
    for label, server in servers.items():
        admin = KubeClient.for_server(server.url, "admin")
        populate(admin, args.bindings)
        token = admin.request("POST", f"/api/v1/namespaces/{NS}/serviceaccounts/ci/token",
                              body={"spec": {}}).json()["status"]["token"]
        clients[(label, "admin")] = admin
        clients[(label, "serviceaccount")] = KubeClient.for_server(server.url, token)
    samples: dict[tuple[str, str, str], list[float]] = {}
    differences: dict[tuple[str, str], list[float]] = {}
    calls: dict[str, Callable[[Any], object]] = {
        "get": lambda c: c.get("configmaps", "cm-1", NS),
        "list 20": lambda c: c.list("configmaps", NS)}
    # Pairs: the same request to each server back to back, so both meet the same load.
    for i in range(args.requests):
        for who in ("admin", "serviceaccount"):
            for what, call in calls.items():
                order = ("rbac on", "rbac off") if i % 2 else ("rbac off", "rbac on")
                took = {label: timed(partial(call, clients[(label, who)]))
                        for label in order}
                for label, ms in took.items():
                    samples.setdefault((who, what, label), []).append(ms)
                differences.setdefault((who, what), []).append(
                    took["rbac on"] - took["rbac off"])
    print(f"{args.bindings} RoleBindings in {max(1, args.bindings // 20)} namespaces, "
          f"{args.bindings // 10} ClusterRoleBindings; {args.requests} request pairs per "
          "line, HTTP keep-alive, client and server in one process")
    load_before = os.getloadavg()[0]
    print(f"{'user':<16}{'request':<10}{'RBAC on (median / p95)':<26}"
          f"{'RBAC off (median / p95)':<26}{'paired difference (median)'}")
    summary: dict[str, Any] = {}
    for who in ("admin", "serviceaccount"):
        for what in calls:
            on = percentiles(samples[(who, what, "rbac on")])
            off = percentiles(samples[(who, what, "rbac off")])
            paired = statistics.median(differences[(who, what)])
            print(f"{who:<16}{what:<10}{on[0]:6.2f} / {on[1]:6.2f} ms      "
                  f"{off[0]:6.2f} / {off[1]:6.2f} ms      {paired * 1000:+7.0f} µs")
            summary[f"{who} {what}"] = {
                "on_p50_ms": round(on[0], 3), "on_p95_ms": round(on[1], 3),
                "off_p50_ms": round(off[0], 3), "off_p95_ms": round(off[1], 3),
                "paired_difference_p50_us": round(paired * 1000, 1)}
    summary["authorize_us"] = authorize_alone(servers["rbac on"])
    save(RESULTS, {"benchmark": "rbac", "machine": machine(), "requests": args.requests,
                   "bindings": args.bindings,
                   "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                   "summary": summary})
    for server in servers.values():
        server.stop()


def authorize_alone(server: Any) -> dict[str, float]:
    from kompy.cluster.apiserver.authz import Attributes
    from kompy.cluster.apiserver.serviceaccounts import user_for
    user = user_for(NS, "ci")
    attributes = Attributes(user, "get", NS, "", "v1", "configmaps", "", "cm-1")
    denied = Attributes(user, "get", "team-0", "", "v1", "secrets", "", "s")
    rbac = server.router.rbac
    out: dict[str, float] = {}
    for label, attrs in (("allowed", attributes), ("denied", denied)):
        count = 20000
        start = time.perf_counter()
        for _ in range(count):
            rbac.authorize(attrs)
        cached = (time.perf_counter() - start) / count * 1e6
        start = time.perf_counter()
        for _ in range(count // 10):
            rbac._fresh().decisions.clear()   # noqa: SLF001 - measuring the uncached path
            rbac.authorize(attrs)
        fresh = (time.perf_counter() - start) / (count // 10) * 1e6
        print(f"authorize() alone, {label}: {cached:.1f} µs cached, {fresh:.1f} µs worked out")
        out[f"{label}_cached"], out[f"{label}_fresh"] = round(cached, 1), round(fresh, 1)
    return out


if __name__ == "__main__":
    main()
