"""A ReadWriteOnce volume on two nodes, on the real engine: a cluster of two nodes of its
own; the claim's second user, on the other node, is refused with the attach-detach
controller's Multi-Attach event, and starts once the first is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from clusterkit import container, docker_ok, pod, running, wait_for

from kompy.client import NotFound

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    home = tmp_path_factory.mktemp("kompy-attach")
    name = f"a{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KOMPY_HOME": str(home), "KOMPY_CLUSTER": name,
           "KOMPY_INGRESS_PORTS": "off", "HOME": str(home)}
    started = subprocess.run([sys.executable, "-m", "kompy", "cluster", "start", "--nodes",
                              "2"], env=env, capture_output=True, text=True, timeout=180)
    saved = dict(os.environ)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        os.environ.update(env)
        from kompy.cluster.daemon.process import running_client

        yield running_client(name)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True, text=True, timeout=180)


def _user(name: str, node: str) -> dict[str, Any]:
    spec = pod(name, "default", container("c", "sleep 3600", volumeMounts=[
        {"name": "d", "mountPath": "/data"}]), nodeName=node)
    spec["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "one"}}]
    return spec


def test_a_read_write_once_volume_is_refused_on_a_second_node(two_nodes: Any) -> None:
    client = two_nodes
    wait_for("two nodes", lambda: len(client.list("nodes")["items"]) == 2, 90)
    client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "one", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Mi"}}}})
    client.create(_user("first", "kompy"))
    running(client, "first", "default", 120)
    volume = client.get("persistentvolumeclaims", "one", "default")["spec"]["volumeName"]
    client.create(_user("second", "kompy-m02"))

    def refused() -> bool:
        return any(e.get("reason") == "FailedAttachVolume" and e.get("message") ==
                   f'Multi-Attach error for volume "{volume}" Volume is already used by '
                   "pod(s) first" for e in client.list("events", "default")["items"]
                   if e["involvedObject"]["name"] == "second")
    wait_for("the Multi-Attach event", refused, 60)
    assert client.get("pods", "second", "default")["status"].get("phase") == "Pending"
    client.delete("pods", "first", "default")

    def gone() -> bool:
        try:
            client.get("pods", "first", "default")
        except NotFound:
            return True
        return False
    wait_for("the first pod gone", gone, 60)
    running(client, "second", "default", 180)
