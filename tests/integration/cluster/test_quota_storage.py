"""Quotas, limit ranges and storage on the real Docker engine, through stock kubectl where a
user would type it: a quota refuses the pod over it with kube-apiserver's message, a
LimitRange fills in a pod's resources, a claim of the default class gets a Docker volume that
outlives its pods and goes (or stays) by its class's reclaim policy, a static hostPath
volume binds by selector."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, container, kubectl_runner, pod, running, sh, wait_for

from kompy.client import NotFound

SDK = Path("/usr/lib/google-cloud-sdk/bin")


@pytest.fixture
def kubectl(cluster: dict[str, Any], namespace: str, tmp_path: Path) -> Any:
    binary = SDK / "kubectl.1.30"
    return kubectl_runner(binary if binary.exists() else Path("kubectl"), cluster, namespace,
                          tmp_path)


def pod_yaml(name: str, resources: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {BUSYBOX}
    command: [sleep, "3600"]
{resources}
"""


def test_a_quota_refuses_the_pod_over_it_and_a_limit_range_fills_in(
        client: Any, namespace: str, kubectl: Any) -> None:
    kubectl("apply", "-f", "-", stdin="""
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {pods: "1", requests.cpu: "1", limits.memory: 1Gi}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 200m, memory: 128Mi}
""")
    kubectl("apply", "-f", "-", stdin=pod_yaml("first"))
    made = client.get("pods", "first", namespace)
    assert made["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "128Mi"}}
    assert made["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit "
        "for container web")
    refused = kubectl("apply", "-f", "-", stdin=pod_yaml("second"), code=1)
    assert 'Error from server (Forbidden): error when creating "STDIN": pods "second" is ' \
           "forbidden: exceeded quota: compute, requested: pods=1, used: pods=1, limited: " \
           "pods=1" in refused
    running(client, "first", namespace)

    def described() -> str | None:
        text = str(kubectl("describe", "quota", "compute"))
        return text if "requests.cpu   200m   1\n" in text else None
    text = wait_for("the quota's usage", described, 30,
                    lambda: str(kubectl("describe", "quota", "compute")))
    assert "pods           1      1\n" in text and "limits.memory  256Mi  1Gi\n" in text
    listed = kubectl("get", "quota")
    assert "limits.memory: 256Mi/1Gi" in listed and "pods: 1/1, requests.cpu: 200m/1" in listed
    limits = kubectl("describe", "limitrange", "defaults")
    assert "Container   cpu       -    -    200m             500m           -\n" in limits


def _volume_exists(name: str) -> bool:
    return subprocess.run(["docker", "volume", "inspect", name], capture_output=True
                          ).returncode == 0


def _claim(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "10Mi"}}, **spec}}


def _user(name: str, ns: str, claim: str, command: str) -> dict[str, Any]:
    spec = pod(name, ns, container("c", command, volumeMounts=[
        {"name": "d", "mountPath": "/data"}]))
    spec["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]
    return spec


def _gone(client: Any, plural: str, name: str, ns: str | None = None) -> bool:
    try:
        client.get(plural, name, ns)
    except NotFound:
        return True
    return False


def test_a_claim_is_provisioned_outlives_its_pod_and_is_reclaimed_by_policy(
        cluster: dict[str, Any], client: Any, namespace: str, kubectl: Any) -> None:
    keep = f"keep-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": keep}, "provisioner": "kompy.dev/local",
                   "reclaimPolicy": "Retain"})
    try:
        client.create(_claim("scratch", namespace))
        client.create(_claim("kept", namespace, storageClassName=keep))
        client.create(_user("writer", namespace, "scratch", "echo kept > /data/f; sleep 3600"))
        running(client, "writer", namespace)
        bound = client.get("persistentvolumeclaims", "scratch", namespace)
        volume = bound["spec"]["volumeName"]
        docker_volume = f"kompy-{cluster['name']}-{namespace}-scratch"
        assert _volume_exists(docker_volume)
        listed = kubectl("get", "pv,pvc,sc")
        assert "STORAGECLASS" in listed and "kompy-local (default)   kompy.dev/local" in listed
        assert f"persistentvolumeclaim/scratch   Bound    {volume}" in listed
        client.delete("pods", "writer", namespace)
        wait_for("the writer gone", lambda: _gone(client, "pods", "writer", namespace))
        client.create(_user("reader", namespace, "scratch", "sleep 3600"))
        running(client, "reader", namespace)
        assert sh(client, "reader", namespace, "cat /data/f").strip() == "kept"
        client.delete("pods", "reader", namespace)
        wait_for("the reader gone", lambda: _gone(client, "pods", "reader", namespace))

        # Delete (the default class): the volume and its Docker volume go with the claim.
        client.delete("persistentvolumeclaims", "scratch", namespace)
        wait_for("the volume deleted", lambda: _gone(client, "persistentvolumes", volume), 60)
        wait_for("the Docker volume removed", lambda: not _volume_exists(docker_volume), 30)

        # Retain: Released, the Docker volume kept.
        kept = wait_for("bound", lambda: client.get("persistentvolumeclaims", "kept",
                                                     namespace)["spec"].get("volumeName"))
        client.delete("persistentvolumeclaims", "kept", namespace)
        wait_for("Released", lambda: client.get("persistentvolumes", kept)["status"][
            "phase"] == "Released")
        assert _volume_exists(f"kompy-{cluster['name']}-{namespace}-kept")
        assert f"{kept}" in kubectl("get", "pv", kept) and "Released" in kubectl(
            "get", "pv", kept)
        client.delete("persistentvolumes", kept)
    finally:
        client.delete("storageclasses", keep)


def test_a_delayed_claim_is_provisioned_on_the_pods_node_before_the_pod_starts(
        client: Any, namespace: str, kubectl: Any) -> None:
    """WaitForFirstConsumer: the scheduler selects the node on the claim, the claim is
    provisioned and bound, and only then is the pod bound; ``kubectl describe pod`` shows
    no FailedMount on the way (the default class, Immediate, likewise)."""
    late = f"late-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": late}, "provisioner": "kompy.dev/local",
                   "volumeBindingMode": "WaitForFirstConsumer"})
    try:
        client.create(_claim("late", namespace, storageClassName=late))
        client.create(_claim("now", namespace))
        client.create(_user("user", namespace, "late", "sleep 3600"))
        client.create(_user("other", namespace, "now", "sleep 3600"))
        running(client, "user", namespace)
        running(client, "other", namespace)
        node = client.get("pods", "user", namespace)["spec"]["nodeName"]
        claim = client.get("persistentvolumeclaims", "late", namespace)
        assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
        assert claim["status"]["phase"] == "Bound"
        for pod_name in ("user", "other"):
            described = kubectl("describe", "pod", pod_name)
            assert "Successfully assigned" in described
            assert "FailedMount" not in described and "is not bound" not in described
        client.delete("pods", "user", namespace)
        client.delete("pods", "other", namespace)
        wait_for("the pods gone", lambda: _gone(client, "pods", "user", namespace) and _gone(
            client, "pods", "other", namespace))
        client.delete("persistentvolumeclaims", "late", namespace)
    finally:
        client.delete("storageclasses", late)


def test_a_static_volume_binds_by_selector(client: Any, namespace: str, tmp_path: Path
                                           ) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    os.chmod(folder, 0o777)
    names = [f"{namespace}-{size}" for size in ("small", "large")]
    for name, size, tier in ((names[0], "20Mi", "gold"), (names[1], "1Gi", "gold")):
        client.create({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": name, "labels": {"tier": tier,
                                                             "test": namespace}},
                       "spec": {"capacity": {"storage": size},
                                "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                                "hostPath": {"path": str(folder / name),
                                             "type": "DirectoryOrCreate"}}})
    try:
        client.create(_claim("static", namespace, storageClassName="", selector={
            "matchLabels": {"tier": "gold", "test": namespace}}))
        volume = wait_for("bound", lambda: client.get("persistentvolumeclaims", "static",
                                                       namespace)["spec"].get("volumeName"))
        assert volume == names[0]   # the smallest that holds 10Mi
        client.create(_user("user", namespace, "static", "echo hi > /data/f; sleep 3600"))
        running(client, "user", namespace)
        wait_for("the file on the host", lambda: (folder / names[0] / "f").exists(), 30)
    finally:
        for name in names:
            client.delete("persistentvolumes", name)


def test_a_claim_in_use_is_terminating_until_its_pod_goes_and_rwop_takes_one_pod(
        client: Any, namespace: str, kubectl: Any) -> None:
    """Storage object in-use protection and ReadWriteOncePod, through stock kubectl."""
    client.create(_claim("data", namespace))
    client.create(_claim("solo", namespace, accessModes=["ReadWriteOncePod"]))
    client.create(_user("app", namespace, "data", "sleep 3600"))
    client.create(_user("owner", namespace, "solo", "sleep 3600"))
    running(client, "app", namespace)
    running(client, "owner", namespace)
    assert client.get("persistentvolumeclaims", "data", namespace)["metadata"][
        "finalizers"] == ["kubernetes.io/pvc-protection"]
    # kubectl waits for a deletion by default; --wait=false returns, the claim stays.
    assert 'persistentvolumeclaim "data" deleted' in kubectl("delete", "pvc", "data",
                                                             "--wait=false")
    assert "Terminating" in kubectl("get", "pvc", "data").splitlines()[1].split()
    assert sh(client, "app", namespace, "touch /data/still-here && echo ok").strip() == "ok"
    # A second pod on the ReadWriteOncePod claim stays Pending, as kube-scheduler says.
    client.create(_user("second", namespace, "solo", "sleep 3600"))
    message = wait_for("the second pod unschedulable", lambda: next((
        c.get("message") for c in client.get("pods", "second", namespace)["status"].get(
            "conditions") or [] if c.get("type") == "PodScheduled"), None))
    assert message == ("0/1 nodes are available: 1 node has pod using PersistentVolumeClaim "
                       "with the same name and ReadWriteOncePod access mode. preemption: 0/1 "
                       "nodes are available: 1 No preemption victims found for incoming pod.")
    assert "Pending" in kubectl("get", "pod", "second")
    client.delete("pods", "app", namespace)
    kubectl("wait", "--for=delete", "pvc/data", "--timeout=60s")
    client.delete("pods", "owner", namespace)
    running(client, "second", namespace)
