"""Stock kubectl's rollout status, history and undo for a StatefulSet and a DaemonSet on
the built-in cluster (real Docker engine): status waits while a rolling update runs and says
"rolling update complete" / "partitioned roll out complete" when upstream's would (it reads
the controller's currentRevision/updateRevision), history and undo read ControllerRevisions.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from clusterkit import BUSYBOX
from test_kubectl_conformance import (  # noqa: F401 (fixtures)
    Session,
    background,
    kube_env,
    read_until,
    session,
)

pytestmark = pytest.mark.integration

SET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: IMAGE
        command: [sh, -c, "mkdir /w; exec httpd -f -p 8080 -h /w"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: IMAGE
        command: [sh, -c, "exec sleep 3600"]
""".replace("IMAGE", BUSYBOX)


def revision_hashes(client: Any, namespace: str) -> list[str]:
    pods = client.list("pods", namespace, label_selector="app=db")["items"]
    return sorted(p["metadata"]["labels"]["controller-revision-hash"] for p in pods)


def history_numbers(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"^(\d+)\s", output, re.MULTILINE)]


@pytest.mark.parametrize("session", (27, 33), indirect=True, ids=["1.27", "1.33"])
def test_statefulset_and_daemonset_rollouts(session: Session,  # noqa: F811 (the fixture)
                                            cluster: dict[str, Any]) -> None:
    k, client = session, cluster["client"]
    k.run("apply", "-f", k.file("set.yaml", SET))
    first = k.run("rollout", "status", "statefulset/db", "--timeout=120s")
    rev1 = client.get("statefulsets", "db", k.namespace)["status"]["currentRevision"]
    assert f"statefulset rolling update complete 3 pods at revision {rev1}..." in first

    # A rolling update: status waits, and says "complete" only once every pod is updated.
    k.run("set", "env", "statefulset/db", "V=2")
    with background(k.argv("rollout", "status", "statefulset/db", "--timeout=120s"),
                    k.env) as watch:
        seen = read_until(watch, "rolling update complete", timeout=120)
    rev2 = client.get("statefulsets", "db", k.namespace)["status"]["updateRevision"]
    assert rev2 != rev1
    assert "waiting for statefulset rolling update to complete" in seen or \
        "Waiting for 1 pods to be ready" in seen, seen
    assert f"statefulset rolling update complete 3 pods at revision {rev2}..." in seen
    assert revision_hashes(client, k.namespace) == [rev2] * 3

    history = k.run("rollout", "history", "statefulset/db")
    assert "statefulset.apps/db" in history and history_numbers(history) == [1, 2]
    assert "V" not in k.run("rollout", "history", "statefulset/db", "--revision=1").split(
        "Environment:")[-1].split("Mounts")[0]

    # undo goes back to revision 1's template, which becomes revision 3.
    assert "statefulset.apps/db rolled back" in k.run("rollout", "undo", "statefulset/db")
    back = k.run("rollout", "status", "statefulset/db", "--timeout=120s")
    assert f"statefulset rolling update complete 3 pods at revision {rev1}..." in back
    assert history_numbers(k.run("rollout", "history", "statefulset/db")) == [2, 3]
    assert "skipped rollback" in k.run("rollout", "undo", "statefulset/db", "--to-revision=3")

    # A partition: complete once the pods at or above it are updated.
    k.run("patch", "statefulset/db", "-p",
          '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}')
    k.run("set", "env", "statefulset/db", "V=3")
    part = k.run("rollout", "status", "statefulset/db", "--timeout=120s")
    assert "partitioned roll out complete: 1 new pods have been updated..." in part
    status = client.get("statefulsets", "db", k.namespace)["status"]
    assert status["currentRevision"] == rev1 != status["updateRevision"]

    # A DaemonSet's history and undo.
    k.run("rollout", "status", "daemonset/agent", "--timeout=120s")
    k.run("set", "env", "daemonset/agent", "V=2")
    assert 'daemon set "agent" successfully rolled out' in k.run(
        "rollout", "status", "daemonset/agent", "--timeout=120s")
    assert history_numbers(k.run("rollout", "history", "daemonset/agent")) == [1, 2]
    assert "daemonset.apps/agent rolled back" in k.run("rollout", "undo", "daemonset/agent")
    k.run("rollout", "status", "daemonset/agent", "--timeout=120s")
    assert history_numbers(k.run("rollout", "history", "daemonset/agent")) == [2, 3]
