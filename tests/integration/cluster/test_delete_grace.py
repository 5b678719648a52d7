"""A second ``kubectl delete`` with a shorter grace period, on the real engine: the API server
moves ``deletionTimestamp`` and ``deletionGracePeriodSeconds`` earlier (rest.BeforeDelete),
never later, and the kubelet stops the pod by the new deadline, not the first one's."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, running, wait_for

pytestmark = pytest.mark.integration

STAMP = "%Y-%m-%dT%H:%M:%SZ"
# The kubelet's least time between a container's stop signal and SIGKILL (upstream's
# minimumGracePeriodInSeconds): a --grace-period=1 stop of a container deaf to SIGTERM
# takes 2 s.
MIN_GRACE = 2


def kubectl(cluster: dict[str, Any], home: Path, *args: str) -> str:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(cluster["dir"] / "kubeconfig")}
    done = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def marks(client: Any, ns: str) -> tuple[datetime, int]:
    meta = client.get("pods", "deaf", ns)["metadata"]
    when = datetime.strptime(meta["deletionTimestamp"], STAMP).replace(tzinfo=UTC)
    return when, int(meta["deletionGracePeriodSeconds"])


def test_a_shorter_second_delete_moves_the_deadline_and_the_pod_ends_by_it(
        cluster: dict[str, Any], client: Any, namespace: str, tmp_path: Path) -> None:
    # No terminationGracePeriodSeconds: the default 30 s. ``exec sleep`` as PID 1 ignores
    # SIGTERM, so only SIGKILL at the grace period's end stops it.
    client.create({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "deaf", "namespace": namespace},
                   "spec": {"containers": [{"name": "c", "image": BUSYBOX,
                                            "command": ["sh", "-c", "exec sleep 3600"]}]}})
    running(client, "deaf", namespace, timeout=120)

    asked = datetime.now(UTC).replace(microsecond=0)
    out = kubectl(cluster, tmp_path, "delete", "pod", "deaf", "-n", namespace, "--wait=false")
    assert out.strip() == 'pod "deaf" deleted'
    first, grace = marks(client, namespace)
    # Upstream's deletionTimestamp is when the pod is to be gone: the request + 30 s.
    assert grace == 30 and 29 <= (first - asked).total_seconds() <= 31

    # A longer grace period never moves the deadline later.
    kubectl(cluster, tmp_path, "delete", "pod", "deaf", "-n", namespace, "--wait=false",
            "--grace-period=60")
    assert marks(client, namespace) == (first, 30)

    began = time.monotonic()
    kubectl(cluster, tmp_path, "delete", "pod", "deaf", "-n", namespace, "--wait=false",
            "--grace-period=1")
    # (The pod is still there: its container gets at least MIN_GRACE after the signal.)
    moved, grace = marks(client, namespace)
    # The first request's moment + 1 s: 29 s earlier, as BeforeDelete computes it.
    assert grace == 1 and (first - moved).total_seconds() == 29
    wait_for("the pod gone", lambda: not client.list("pods", namespace)["items"], 30)
    took = time.monotonic() - began
    assert took < MIN_GRACE + 6, f"the pod took {took:.1f} s after --grace-period=1, not ~2 s"
    # The first deletion's 30 s did not hold it: its deadline is still far ahead.
    assert datetime.now(UTC) < first
