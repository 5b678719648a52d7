"""A pod's deletion on the real engine: many pods whose process ignores SIGTERM stop
together in about one grace period; a preStop hook runs before the stop signal, within the
grace period (upstream's pod workers and killContainer)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from clusterkit import container, events, pod, running, wait_for

GRACE = 5


def test_many_deaf_pods_deleted_at_once_stop_in_one_grace_period(client: Any,
                                                                  namespace: str) -> None:
    """``exec sleep`` as PID 1 ignores SIGTERM: each container waits out its grace period.
    Blocking stop calls on the kubelet's threads took a grace period per eight pods (32
    pods: 4 x 5 s at least); the bound leaves room for a loaded machine's API calls and
    container removals."""
    count = 32
    for i in range(count):
        client.create(pod(f"deaf-{i}", namespace, container("c", "exec sleep 3600"),
                          terminationGracePeriodSeconds=GRACE))
    for i in range(count):
        running(client, f"deaf-{i}", namespace, timeout=180)

    began = time.monotonic()
    for i in range(count):
        client.delete("pods", f"deaf-{i}", namespace)
    wait_for("every pod gone", lambda: not client.list("pods", namespace)["items"], 60)
    took = time.monotonic() - began

    assert GRACE <= took < 3 * GRACE, f"{count} pods took {took:.1f} s to stop"


def test_the_pre_stop_hook_runs_before_the_stop_signal_within_the_grace_period(
        client: Any, namespace: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    polite = container("polite", "trap 'echo term >> /out/log; exit 0' TERM; "
                       "while true; do sleep 0.1; done", volumeMounts=[
                           {"name": "out", "mountPath": "/out"}],
                       lifecycle={"preStop": {"exec": {"command": [
                           "sh", "-c", "sleep 1; echo hook >> /out/log"]}}})
    deaf = container("deaf", "exec sleep 3600")
    client.create(pod("hooked", namespace, polite, deaf, terminationGracePeriodSeconds=4,
                      volumes=[{"name": "out", "hostPath": {"path": str(out)}}]))
    running(client, "hooked", namespace, timeout=120)

    began = time.monotonic()
    client.delete("pods", "hooked", namespace)
    wait_for("the pod gone", lambda: not client.list("pods", namespace)["items"], 60)
    took = time.monotonic() - began

    assert (out / "log").read_text() == "hook\nterm\n"  # the hook first, then SIGTERM
    assert 4 <= took < 4 + 3, f"the pod took {took:.1f} s: its grace period is 4 s"
    kills = [e["message"] for e in events(client, namespace, "hooked")
             if e.get("reason") == "Killing"]
    assert sorted(kills) == ["Stopping container deaf", "Stopping container polite"]
