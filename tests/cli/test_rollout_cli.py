"""``kompy rollout ...`` through the real CLI, against a real daemon serving the API only
(KOMPY_CLUSTER_NO_RUNTIME: no Docker, no controllers; the test writes ReplicaSets and status
as the Deployment controller would)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clikit import run

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "kompy/busybox:1"}]
"""


@pytest.fixture
def cluster(cluster: Path) -> Any:
    """The client of the CLI tests' API-only daemon (conftest.py), with a Deployment ``web``
    applied."""
    run("apply", "-f", "-", input=DEPLOYMENT)
    from kompy.cluster.daemon.process import connect_client
    return connect_client()


def add_revision(client: Any, revision: int, image: str) -> None:
    """Set web's image and add the ReplicaSet the controller would make for it."""
    dep = client.patch("deployments", "web", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": image}]}}}})
    tmpl = dep["spec"]["template"]
    client.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"web-r{revision}", "namespace": "default",
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "web", "uid": dep["metadata"]["uid"],
                                          "controller": True}]},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web", "r": str(revision)}},
                 "template": {**tmpl, "metadata": {"labels": {
                     "app": "web", "r": str(revision), "pod-template-hash": f"r{revision}"}}}}})


def test_history_undo_and_errors(cluster: Any) -> None:
    add_revision(cluster, 1, "kompy/busybox:1")
    add_revision(cluster, 2, "kompy/python:3")
    assert run("rollout", "history", "deploy/web").output.splitlines()[:4] == [
        "deployment.apps/web ", "REVISION  CHANGE-CAUSE", "1         <none>",
        "2         <none>"]
    assert "Image:\tkompy/busybox:1" in run(
        "rollout", "history", "deployment", "web", "--revision", "1").output
    # Revision 1's template carries the label r=1: undo brings it back (minus the hash).
    assert run("rollout", "undo", "deploy", "web", "-n", "default").output == \
        "deployment.apps/web rolled back\n"
    dep = cluster.get("deployments", "web", "default")
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "web", "r": "1"}
    assert "skipped rollback (current template already matches revision 1)" in run(
        "rollout", "undo", "deploy/web", "--to-revision", "1").output
    missing = run("rollout", "undo", "deploy/web", "--to-revision", "9", code=2).output
    assert missing == "error: unable to find specified revision 9 in history\n" \
                      "  hint: kompy rollout history deployment/web lists them\n"
    assert run("rollout", "history", "deploy/nope", code=2).output.startswith(
        'error: deployments.apps "nope" not found')
    assert run("rollout", "status", "pod/web", code=2).output.startswith(
        "error: rollout status does not work on pods")
    assert run("rollout", "pause", "sts/db", code=2).output.startswith(
        "error: rollout pause does not work on statefulsets")


def test_status_once_and_timeout(cluster: Any) -> None:
    assert run("rollout", "status", "deploy/web", "--watch=false").output == \
        "Waiting for deployment spec update to be observed...\n"
    assert run("rollout", "status", "deploy", "web", "-w=0").output.count("\n") == 1
    # As with kubectl, -w takes a value only after "=": here deploy/web is the object.
    timed_out = run("rollout", "status", "-w", "deploy/web", "--timeout", "1s", code=1)
    assert timed_out.output.splitlines()[-1] == "error: timed out waiting for the condition"
    dep = cluster.get("deployments", "web", "default")
    cluster.replace_status({**dep, "status": {
        "observedGeneration": dep["metadata"]["generation"], "replicas": 2,
        "updatedReplicas": 2, "availableReplicas": 2}})
    assert run("rollout", "status", "deploy", "web", "--timeout", "5m").output == \
        'deployment "web" successfully rolled out\n'


def test_restart_pause_resume(cluster: Any) -> None:
    assert run("rollout", "restart", "deploy/web").output == "deployment.apps/web restarted\n"
    annotations = cluster.get("deployments", "web", "default")["spec"]["template"][
        "metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert run("rollout", "pause", "deploy/web").output == "deployment.apps/web paused\n"
    assert "can't restart paused deployment" in run("rollout", "restart", "deploy/web",
                                                    code=2).output
    assert run("rollout", "resume", "deploy/web").output == "deployment.apps/web resumed\n"
    assert run("rollout", "resume", "deploy/web").output == \
        "deployment.apps/web already resumed\n"


STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "kompy/busybox:1"}]
"""


def test_statefulset_status_as_the_server_defaulted_it(cluster: Any) -> None:
    """No replicas, no updateStrategy: the server's defaults (1; RollingUpdate, partition 0)
    decide kubectl's line; OnDelete is refused in kubectl's words."""
    run("apply", "-f", "-", input=STATEFULSET)
    sts = cluster.get("statefulsets", "db", "default")
    cluster.replace_status({**sts, "status": {
        "observedGeneration": sts["metadata"]["generation"], "replicas": 1,
        "readyReplicas": 0, "updatedReplicas": 1}})
    assert run("rollout", "status", "sts/db", "--watch=false").output == \
        "Waiting for 1 pods to be ready...\n"
    sts = cluster.get("statefulsets", "db", "default")
    cluster.replace_status({**sts, "status": {**sts["status"], "readyReplicas": 1}})
    assert run("rollout", "status", "sts/db").output == \
        "partitioned roll out complete: 1 new pods have been updated...\n"
    cluster.patch("statefulsets", "db", "default",
                  {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}})
    refused = run("rollout", "status", "sts/db", code=2).output
    assert refused.splitlines()[0] == \
        "error: rollout status is only available for RollingUpdate strategy type"
