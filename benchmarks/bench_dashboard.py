"""``kompy dashboard``: how fast a page lists pods, and how soon a change reaches an open page.

A real daemon (API only, no Docker runtime) in a temporary KOMPY_HOME holds ``--pods`` pods;
``kompy dashboard --port 0`` runs as a user runs it. Measured side by side in the same run:

- the pods page (every namespace) and its live fragment, over HTTP, against the peer a
  terminal user has: stock ``kubectl get pods -A`` on the same API (process start included,
  as a user waits for it);
- a change to the page: a ConfigMap created through the API until the page's event stream
  says ``configmaps`` (the informer's watch, the fan-out, the 250 ms gathering pause).

    python benchmarks/bench_dashboard.py [--pods 300] [--samples 20]
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
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, save  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
            "n": len(ordered)}


def timed_ms(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def start_dashboard() -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen([sys.executable, "-m", "kompy", "dashboard", "--no-open",
                                "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=tempfile.gettempdir())
    assert process.stdout is not None
    for _ in range(20):
        found = re.search(r"http://127\.0\.0\.1:\d+/login\?token=\S+", process.stdout.readline())
        if found:
            login = found.group(0)
            break
    else:
        raise SystemExit("the dashboard printed no login URL")

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None
    try:
        urllib.request.build_opener(Keep).open(login, timeout=30)
    except urllib.error.HTTPError as redirect:
        cookie = re.search(r"kompy_dashboard=([^;]+)", redirect.headers["set-cookie"])
        assert cookie
        return process, login.split("/login")[0], cookie.group(1)
    raise SystemExit("login did not redirect")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    os.environ["KOMPY_HOME"] = tempfile.mkdtemp(prefix="kompy-bench-dash-")
    os.environ["KOMPY_CLUSTER_NO_RUNTIME"] = "1"
    os.environ["KOMPY_CLUSTER"] = "benchdash"
    from kompy.cluster.daemon import process as daemon

    client = daemon.ensure_cluster("benchdash")
    try:
        for i in range(args.pods):
            client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": f"p{i:04d}", "namespace": "default", "labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}})
        result = {"machine": machine(), "pods": args.pods, "load_average": os.getloadavg()}
        result.update(measure(client, args.samples))
        save(RESULTS, result)
    finally:
        daemon.reset("benchdash")
        shutil.rmtree(os.environ["KOMPY_HOME"], ignore_errors=True)


def measure(client: Any, samples: int) -> dict[str, Any]:
    process, base, cookie = start_dashboard()
    try:
        headers = {"Cookie": f"kompy_dashboard={cookie}"}

        def fetch(path: str) -> None:
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=60) as response:
                assert b"p0000" in response.read()
        page = [timed_ms(lambda: fetch("/pods")) for _ in range(samples)]
        fragment = [timed_ms(lambda: fetch("/fragment/pods")) for _ in range(samples)]
        kubeconfig = Path(os.environ["KOMPY_HOME"]) / "benchdash" / "kubeconfig"
        kubectl = [timed_ms(lambda: subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-A"],
            capture_output=True, check=True)) for _ in range(samples)]
        change = []
        request = urllib.request.Request(base + "/stream?ns=default", headers=headers)
        with urllib.request.urlopen(request, timeout=60) as stream:
            stream.readline()
            for i in range(samples):
                start = time.perf_counter()
                client.create({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": f"c{i}", "namespace": "default"}})
                while b"event: configmaps" not in stream.readline():
                    pass
                change.append((time.perf_counter() - start) * 1000)
        return {"pods_page": stats(page), "pods_fragment": stats(fragment),
                "peer_kubectl_get_pods_A": stats(kubectl),
                "change_to_open_page_event": stats(change)}
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
