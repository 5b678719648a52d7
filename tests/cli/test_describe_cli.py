"""``kompy describe`` laid out as ``kubectl describe`` lays it out: the same objects, served by
a real daemon (API only), described by kompy and by real kubectl 1.33; the two outputs are
the same to the space (event ages aside, which tick between the two runs). No Python
spelling (None, True, dict reprs) may appear."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kompy.cli import main

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
NS = "shop"


def kompy(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), prog_name="kompy")
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    home = tmp_path_factory.mktemp("describe")
    saved = dict(os.environ)
    os.environ.update(KOMPY_HOME=str(home / "kompy"), KOMPY_CLUSTER_NO_RUNTIME="1",
                      HOME=str(home), KOMPY_CLUSTER="describe")
    for key in ("KUBECONFIG", "KOMPY_KUBECONFIG"):
        os.environ.pop(key, None)
    try:
        config = home / "kubeconfig"
        config.write_text(kompy("cluster", "kubeconfig"))
        from kompy.cluster.daemon.process import running_client

        client = running_client()
        _objects(client)
        yield client, config
    finally:
        CliRunner().invoke(main, ["cluster", "stop"])
        os.environ.clear()
        os.environ.update(saved)


def _ago(minutes: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _objects(client: Any) -> None:
    client.create({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": NS, "labels": {"team": "web"}}})
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "settings", "namespace": NS, "labels": {"app": "web"},
        "annotations": {"note": "short", "long": "x" * 150}},
        # (One key: kubectl 1.33 prints a ConfigMap's keys in Go's random map order.)
        "data": {"app.conf": "mode=fast\nlevel=3"},
        "binaryData": {"logo": base64.b64encode(b"\x89PNG").decode()}})
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "creds", "namespace": NS}, "type": "Opaque",
        "data": {"password": base64.b64encode(b"s3cret-value").decode()}})
    dep = client.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "web", "namespace": NS, "labels": {"app": "web"},
        "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}}})
    dep["status"] = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                     "readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 1,
                     "conditions": [{"type": "Available", "status": "False",
                                     "reason": "MinimumReplicasUnavailable"},
                                    {"type": "Progressing", "status": "True",
                                     "reason": "ReplicaSetUpdated"}]}
    client.replace_status(dep)
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
             "uid": dep["metadata"]["uid"], "controller": True}
    rs = client.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "web-7d9f", "namespace": NS, "labels": {"app": "web"},
        "annotations": {"deployment.kubernetes.io/revision": "2"},
        "ownerReferences": [owner]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}}})
    rs["status"] = {"replicas": 2, "readyReplicas": 1}
    client.replace_status(rs)
    pod = client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "web-7d9f-abcde", "namespace": NS, "labels": {"app": "web"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": "web-7d9f", "uid": rs["metadata"]["uid"],
                             "controller": True}]},
        "spec": {**POD_SPEC, "nodeName": "kompy"}})
    pod["status"] = POD_STATUS
    client.replace_status(pod)
    _policies_and_storage(client)
    for i, (reason, involved, count) in enumerate((
            ("Scheduled", pod, 1), ("BackOff", pod, 4), ("ScalingReplicaSet", dep, 1))):
        client.create({"apiVersion": "v1", "kind": "Event", "metadata": {
            "name": f"e{i}", "namespace": NS},
            "involvedObject": {"kind": involved["kind"], "name": involved["metadata"]["name"],
                               "namespace": NS, "uid": involved["metadata"]["uid"]},
            "reason": reason, "message": f"{reason} happened", "count": count,
            "type": "Warning" if reason == "BackOff" else "Normal",
            "firstTimestamp": _ago(40), "lastTimestamp": _ago(30),
            "source": {"component": "kubelet"}})


def _policies_and_storage(client: Any) -> None:
    quota = client.create({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {
        "name": "compute", "namespace": NS},
        "spec": {"hard": {"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi",
                          "limits.memory": "2Gi"}, "scopes": ["NotBestEffort"]}})
    quota["status"] = {"hard": quota["spec"]["hard"],
                       "used": {"pods": "1", "requests.cpu": "100m",
                                "requests.memory": "67108864", "limits.memory": "128Mi"}}
    client.replace_status(quota)
    client.create({"apiVersion": "v1", "kind": "LimitRange", "metadata": {
        "name": "limits", "namespace": NS},
        # (One resource an item: kubectl prints an item's resources in Go's map order.)
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"},
                             "maxLimitRequestRatio": {"cpu": "4"}},
                            {"type": "Container", "min": {"memory": "16Mi"},
                             "default": {"memory": "256Mi"}},
                            {"type": "PersistentVolumeClaim", "max": {"storage": "5Gi"}}]}})
    volume = client.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {
        "name": "static", "labels": {"tier": "gold"}},
        "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce",
                                                                 "ReadOnlyMany"],
                 "storageClassName": "", "hostPath": {"path": "/srv/static",
                                                      "type": "DirectoryOrCreate"},
                 "claimRef": {"namespace": NS, "name": "web-data"}}})
    volume["status"] = {"phase": "Bound"}
    client.replace_status(volume)
    client.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {
        "name": "made"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "kompy-local",
                 "csi": {"driver": "kompy.dev/local", "volumeHandle": "kompy-x-shop-data"}}})


POD_SPEC: dict[str, Any] = {
    "initContainers": [{"name": "wait", "image": "kompy/busybox:1",
                        "command": ["sh", "-c", "until nc -z db 5432; do sleep 1; done"]}],
    "containers": [{
        "name": "web", "image": "shop-web:dev", "args": ["--port", "8000"],
        "ports": [{"containerPort": 8000, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "fast"},
                {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                           "fieldPath": "metadata.name"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds",
                                                                    "key": "password"}}}],
        "envFrom": [{"configMapRef": {"name": "settings"}}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                      "requests": {"cpu": "100m", "memory": "64Mi"}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8000},
                           "periodSeconds": 5, "timeoutSeconds": 2, "successThreshold": 1,
                           "failureThreshold": 3},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True},
                         {"name": "data", "mountPath": "/data"},
                         {"name": "scratch", "mountPath": "/tmp"}]}],
    "volumes": [{"name": "config", "configMap": {"name": "settings"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                {"name": "scratch", "emptyDir": {"medium": "Memory"}},
                {"name": "creds", "secret": {"secretName": "creds", "optional": True}}],
    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                     "effect": "NoExecute", "tolerationSeconds": 300}],
}
POD_STATUS: dict[str, Any] = {
    "phase": "Running", "hostIP": "172.19.0.1", "podIP": "172.19.0.5",
    "podIPs": [{"ip": "172.19.0.5"}], "startTime": "2026-01-02T03:04:05Z",
    "conditions": [{"type": "Initialized", "status": "True"},
                   {"type": "Ready", "status": "False"},
                   {"type": "PodScheduled", "status": "True"}],
    "initContainerStatuses": [{
        "name": "wait", "image": "kompy/busybox:1", "imageID": "docker-pullable://sha256:1",
        "containerID": "docker://aaa", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                 "startedAt": "2026-01-02T03:04:05Z",
                                 "finishedAt": "2026-01-02T03:04:07Z"}}}],
    "containerStatuses": [{
        "name": "web", "image": "shop-web:dev", "imageID": "docker-pullable://sha256:2",
        "containerID": "docker://bbb", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 40s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                     "startedAt": "2026-01-02T03:05:00Z",
                                     "finishedAt": "2026-01-02T03:05:01Z"}}}],
}

AGE = re.compile(r"\b\d+[smhd](\d+[smhd])?\b")


def _settle_ages(text: str) -> str:
    """Event ages tick between the two runs: compare the layout, not the clock."""
    head, sep, events = text.partition("\nEvents:")
    return head + sep + AGE.sub("AGE", events)


CASES = [("pod", "web-7d9f-abcde"), ("deployment", "web"), ("replicaset", "web-7d9f"),
         ("configmap", "settings"), ("secret", "creds"), ("namespace", NS),
         ("resourcequota", "compute"), ("limitrange", "limits"), ("persistentvolume", "static"),
         ("persistentvolume", "made"), ("storageclass", "kompy-local")]


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl 1.33 is not installed")
@pytest.mark.parametrize(("kind", "name"), CASES)
def test_describe_is_kubectls_layout(cluster: tuple[Any, Path], kind: str, name: str) -> None:
    _, config = cluster
    ours = kompy("describe", kind, name, "-n", NS)
    theirs = subprocess.run([KUBECTL, "--kubeconfig", str(config), "describe", kind, name,
                             "-n", NS], capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 0, theirs.stderr
    assert _settle_ages(ours) == _settle_ages(theirs.stdout)


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_describe_has_no_python_spellings(cluster: tuple[Any, Path], kind: str, name: str
                                          ) -> None:
    text = kompy("describe", kind, name, "-n", NS)
    for word in ("None", "True,", "False,", "{'", "['", "<nil>"):
        assert word not in text, f"{word!r} in:\n{text}"
    assert "s3cret-value" not in text  # a Secret shows keys and sizes only


def test_describe_pod_sections(cluster: tuple[Any, Path]) -> None:
    """The parts of kubectl's pod layout that say what went wrong, checked without kubectl."""
    text = kompy("describe", "pod", "web-7d9f-abcde", "-n", NS)
    lines = text.splitlines()
    assert lines[0].split() == ["Name:", "web-7d9f-abcde"]
    # (The columns' widths are the layout test's: a token volume widens some.)
    assert re.search(r"^Node:\s+kompy/172\.19\.0\.1$", text, re.M)
    assert re.search(r"^Controlled By:\s+ReplicaSet/web-7d9f$", text, re.M)
    assert "    State:          Waiting" in lines
    assert "      Reason:       CrashLoopBackOff" in lines
    assert "    Last State:     Terminated" in lines
    assert "      Exit Code:    1" in lines
    assert "    Restart Count:  3" in lines
    assert "    Ready:          False" in lines
    assert "      PASSWORD:  <set to the key 'password' in secret 'creds'>  Optional: false" \
        in lines
    assert "      /etc/web from config (ro)" in lines
    assert re.search(r"^QoS Class:\s+Burstable$", text, re.M)
    assert any(re.fullmatch(r"  Warning  BackOff\s+\S+ \(x4 over \S+\)\s+kubelet\s+BackOff "
                            r"happened", line) for line in lines), text


def test_describe_secret_keys_and_sizes(cluster: tuple[Any, Path]) -> None:
    text = kompy("describe", "secret", "creds", "-n", NS)
    assert text.endswith("Data\n====\npassword:  12 bytes\n")


def test_kubectl_is_on_this_machine_or_the_layout_test_skips() -> None:
    """(So a missing kubectl is seen in the test report, not silently.)"""
    if not os.path.exists(KUBECTL) and shutil.which("kubectl") is None:
        pytest.skip("no kubectl: the layout comparison did not run")
