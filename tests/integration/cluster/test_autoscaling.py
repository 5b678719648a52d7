"""Metrics and autoscaling on the real Docker engine: `kubectl top` shows a CPU load, and the
sample's converted HorizontalPodAutoscaler scales the CPU-burning Deployment from 1 to at
least 3 pods under a bounded load (from this process, over 127.0.0.1) and back to 1 after.

The cluster is this module's own: its collector samples every 2 s and its HPA controller
syncs every 2 s (metrics-server's and kube-controller-manager's 15 s would make a slow test
of the same behaviour), and the test's HPA has a 10 s scale-down window instead of 300 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import docker_ok, wait_for
from enginekit import free_port

from kompy.yaml import plain

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "autoscale" / "compose.yaml"
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin")
FAST = {"KOMPY_METRIC_RESOLUTION": "2", "KOMPY_HPA_SYNC_PERIOD": "2"}


@pytest.fixture(scope="module")
def fast_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    from kompy.cluster.daemon import process as daemon

    home = tmp_path_factory.mktemp("kompy-home-hpa")
    name = f"t{uuid.uuid4().hex[:8]}"
    saved = {key: os.environ.get(key) for key in (*FAST, "KOMPY_HOME")}
    os.environ.update({**FAST, "KOMPY_HOME": str(home)})
    try:
        client = daemon.ensure_cluster(name)
        yield {"client": client, "kubeconfig": str(home / name / "kubeconfig")}
    finally:
        try:
            daemon.reset(name)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def kubectl(cluster: dict[str, Any], ns: str, *args: str, version: str = "") -> str:
    binary = str(KUBECTL / f"kubectl.1.{version}") if version else "kubectl"
    done = subprocess.run([binary, "-n", ns, *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "KUBECONFIG": cluster["kubeconfig"]})
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def converted(tmp_path: Path, port: int) -> list[dict[str, Any]]:
    """The sample converted by `kompy convert`, its published port moved to ``port`` and its
    HPA given a short scale-down window."""
    out = tmp_path / "manifests"
    subprocess.run([sys.executable, "-m", "kompy", "convert", "-f", str(SAMPLE), "-o",
                    str(out)], check=True, capture_output=True, timeout=120)
    objects = [doc for path in sorted(out.glob("*.yaml"))
               for doc in plain.load_all(path.read_text()) if doc]
    for obj in objects:
        if obj["kind"] == "Service":
            obj["metadata"]["annotations"]["kompy.dev/host-ports"] = f"{port}:8080/tcp"
        if obj["kind"] == "HorizontalPodAutoscaler":
            obj["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 10}}
    return objects


class Load:
    """A bounded load: ``workers`` threads asking for 200 ms of CPU each, one request at a
    time, until stopped (or ``limit`` requests)."""

    def __init__(self, port: int, workers: int = 2, limit: int = 3000) -> None:
        self.url = f"http://127.0.0.1:{port}/burn?ms=200"
        self.stop = threading.Event()
        self.done = 0
        self.limit = limit
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def _run(self) -> None:
        while not self.stop.is_set() and self.done < self.limit:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url, timeout=10) as answer:
                    answer.read()
                self.done += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


def burner_millicores(top: str, seen: list[str]) -> int:
    """The CPU of the burner pods together, from `kubectl top pods`."""
    seen.append(top)
    return sum(int(m) for m in re.findall(r"^burner-\S+\s+(\d+)m\s", top, re.M))


def replicas(client: Any, ns: str) -> int:
    return int(client.get("deployments", "burner", ns)["spec"]["replicas"])


def rescale_events(client: Any, ns: str) -> list[str]:
    return [e["message"] for e in client.list("events", ns)["items"]
            if e.get("reason") == "SuccessfulRescale"]


def hpa_state(client: Any, ns: str) -> str:
    hpa = client.get("horizontalpodautoscalers", "burner", ns)
    return f"HPA status: {hpa.get('status')}"


def test_the_sample_scales_up_under_load_and_back_down(fast_cluster: dict[str, Any],
                                                       tmp_path: Path) -> None:
    client, ns, port = fast_cluster["client"], f"n{uuid.uuid4().hex[:8]}", free_port()
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for obj in converted(tmp_path, port):
        obj["metadata"]["namespace"] = ns
        client.create(obj)
    wait_for("the burner to answer on 127.0.0.1", lambda: urllib.request.urlopen(
        f"http://127.0.0.1:{port}/", timeout=5).read() == b"ok\n", timeout=120)
    assert replicas(client, ns) == 1
    with Load(port) as load:
        seen: list[str] = []
        wait_for("kubectl top to show the burner pods busy (100m or more together)",
                 lambda: burner_millicores(kubectl(fast_cluster, ns, "top", "pods"), seen)
                 >= 100, timeout=90, describe=lambda: f"last kubectl top: {seen[-1:]}")
        wait_for("at least 3 replicas", lambda: replicas(client, ns) >= 3, timeout=120,
                 describe=lambda: hpa_state(client, ns))
        assert load.done > 0
    targets = kubectl(fast_cluster, ns, "get", "hpa", "burner")
    assert re.search(r"Deployment/burner\s+cpu: (\d+%|<unknown>)/50%\s+1\s+4\s+\d", targets)
    wait_for("back to 1 replica", lambda: replicas(client, ns) == 1, timeout=150,
             describe=lambda: hpa_state(client, ns))
    # Events are posted in the background: wait for the scale-down's.
    def with_scale_down() -> list[str] | None:
        found = rescale_events(client, ns)
        return found if "New size: 1; reason: All metrics below target" in found else None
    rescales = wait_for("the scale-down event", with_scale_down)
    assert any(re.fullmatch(r"New size: [34]; reason: cpu resource utilization \(percentage "
                            r"of request\) above target", m) for m in rescales), rescales
    described = kubectl(fast_cluster, ns, "describe", "hpa", "burner")
    assert "ScalingActive" in described and "SuccessfulRescale" in described


@pytest.mark.parametrize("version", ["27", "33"])
def test_kubectl_autoscale_and_scale(fast_cluster: dict[str, Any], version: str) -> None:
    """kubectl 1.27 creates an autoscaling/v1 HPA (served by conversion), 1.33 a v2 one."""
    if not (KUBECTL / f"kubectl.1.{version}").exists():
        pytest.skip(f"kubectl 1.{version} is not installed")
    client, ns = fast_cluster["client"], f"n{uuid.uuid4().hex[:8]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    kubectl(fast_cluster, ns, "create", "deployment", "idle", "--image=kompy/busybox:1",
            "--", "sleep", "3600", version=version)
    kubectl(fast_cluster, ns, "scale", "deployment", "idle", "--replicas=2", version=version)
    assert int(client.get("deployments", "idle", ns)["spec"]["replicas"]) == 2
    out = kubectl(fast_cluster, ns, "autoscale", "deployment", "idle", "--min=1", "--max=3",
                  "--cpu-percent=60", version=version)
    assert "horizontalpodautoscaler.autoscaling/idle autoscaled" in out
    hpa = client.get("horizontalpodautoscalers", "idle", ns)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert hpa["spec"]["minReplicas"] == 1
    assert re.search(r"^idle\s+Deployment/idle\s+cpu: \S+/60%\s+1\s+3\s+", kubectl(
        fast_cluster, ns, "get", "hpa", version=version), re.M)
    v1 = kubectl(fast_cluster, ns, "get", "horizontalpodautoscalers.v1.autoscaling", "idle", "-o",
                 "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage}",
                 version=version)
    assert v1 == "autoscaling/v1 60"
    # The pods request no CPU: the HPA says why it cannot scale.
    wait_for("the HPA to explain itself", lambda: "missing request for cpu" in kubectl(
        fast_cluster, ns, "describe", "hpa", "idle", version=version), timeout=60)
