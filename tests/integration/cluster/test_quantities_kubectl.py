"""Quantities through stock kubectl on the real Docker engine, as against kube-apiserver: a
Deployment applied with ``cpu: 0.5``, ``memory: 1.5Gi``, ``cpu: "1000m"`` reads back
canonical (``500m``, ``1536Mi``, ``1``) in it, its ReplicaSet and its running pod;
``kubectl diff`` prints nothing and exits 0; applying it again, client-side or
server-side, changes nothing (no new generation, no new ReplicaSet, the same managed
fields)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX

pytestmark = pytest.mark.integration

SDK = Path("/usr/lib/google-cloud-sdk/bin")
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: q}
spec:
  selector: {matchLabels: {app: q}}
  template:
    metadata: {labels: {app: q}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: IMAGE
        command: [sleep, "3600"]
        resources:
          requests: {cpu: 0.5, memory: 1.5Gi}
          limits: {cpu: "1000m", memory: 2048Mi}
        volumeMounts: [{name: scratch, mountPath: /scratch}]
      volumes:
      - name: scratch
        emptyDir: {sizeLimit: 0.5Gi}
""".replace("IMAGE", BUSYBOX)
CANONICAL = {"requests": {"cpu": "500m", "memory": "1536Mi"},
             "limits": {"cpu": "1", "memory": "2Gi"}}


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_sees_canonical_quantities_and_no_diff(
        cluster: dict[str, Any], namespace: str, tmp_path: Path, version: str) -> None:
    binary = SDK / f"kubectl.{version}"
    if not binary.exists():
        pytest.skip(f"kubectl {version} is not installed")
    manifest = tmp_path / "q.yaml"
    manifest.write_text(MANIFEST)
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(cluster["dir"] /
                                                                   "kubeconfig")}

    def kubectl(*args: str, code: int = 0) -> str:
        done = subprocess.run([str(binary), "-n", namespace, *args], capture_output=True,
                              text=True, env=env, timeout=90)
        assert done.returncode == code, f"kubectl {' '.join(args)} exited " \
                                        f"{done.returncode}:\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def writers() -> tuple[int, list[Any]]:
        """The Deployment's generation and its managed fields but the controller's status
        entry (status may still move while the pod settles)."""
        obj = json.loads(kubectl("get", "deployment", "q", "-o", "json",
                                 "--show-managed-fields"))
        return obj["metadata"]["generation"], [
            e for e in obj["metadata"]["managedFields"] if e.get("subresource") != "status"]

    assert "deployment.apps/q created" in kubectl("apply", "-f", str(manifest))
    shown = kubectl("get", "deployment", "q", "-o", "yaml")
    for line in ("cpu: 500m", "memory: 1536Mi", 'cpu: "1"', "memory: 2Gi",
                 "sizeLimit: 512Mi"):
        assert line in shown, shown
    assert kubectl("diff", "-f", str(manifest)) == ""
    kubectl("rollout", "status", "deployment/q", "--timeout=90s")
    pods = json.loads(kubectl("get", "pods", "-l", "app=q", "-o", "json"))["items"]
    assert [p["spec"]["containers"][0]["resources"] for p in pods] == [CANONICAL]
    (rs,) = json.loads(kubectl("get", "replicasets", "-l", "app=q", "-o", "json"))["items"]
    assert rs["spec"]["template"]["spec"]["containers"][0]["resources"] == CANONICAL

    # Again, client-side: kubectl sends 0.5 against the live 500m (and says "configured",
    # as it does against kube-apiserver); the server finds nothing to change.
    before = writers()
    kubectl("apply", "-f", str(manifest))
    assert writers() == before and before[0] == 1

    # Server-side: the first apply takes the fields over; the second is a no-op.
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", str(manifest))
    owned = writers()
    kubectl("apply", "--server-side", "-f", str(manifest))
    assert writers() == owned and owned[0] == 1
    assert kubectl("diff", "--server-side", "-f", str(manifest)) == ""
    assert kubectl("diff", "-f", str(manifest)) == ""
    (still,) = json.loads(kubectl("get", "replicasets", "-l", "app=q", "-o", "json"))["items"]
    assert still["metadata"]["uid"] == rs["metadata"]["uid"]
