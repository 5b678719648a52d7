"""StatefulSets, Jobs and DaemonSets on the real Docker engine."""

from __future__ import annotations

from typing import Any

import pytest
from clusterkit import container, sh, wait_for

pytestmark = pytest.mark.integration


def template(command: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "t"}},
            "spec": {"terminationGracePeriodSeconds": 1, **extra,
                     "containers": [container("c", command)]}}


def test_statefulset_ordered_names_and_claims(client: Any, namespace: str) -> None:
    tpl = template("exec sleep 3600")
    tpl["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    client.apply({"apiVersion": "apps/v1", "kind": "StatefulSet",
                  "metadata": {"name": "db", "namespace": namespace},
                  "spec": {"replicas": 2, "serviceName": "db",
                           "selector": {"matchLabels": {"app": "t"}}, "template": tpl,
                           "volumeClaimTemplates": [{
                               "metadata": {"name": "data"},
                               "spec": {"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Mi"}}}}]}})

    def ready() -> bool:
        st = client.get("statefulsets", "db", namespace).get("status") or {}
        return st.get("readyReplicas") == 2

    wait_for("2 ready replicas", ready, 60)
    names = sorted(p["metadata"]["name"] for p in client.list("pods", namespace)["items"])
    assert names == ["db-0", "db-1"]
    claims = sorted(c["metadata"]["name"] for c in
                    client.list("persistentvolumeclaims", namespace)["items"])
    assert claims == ["data-db-0", "data-db-1"]
    assert sh(client, "db-1", namespace, "hostname").strip() == "db-1"
    client.apply({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "db", "namespace": namespace},
                  "spec": {"clusterIP": "None", "selector": {"app": "t"}}})
    ip1 = client.get("pods", "db-1", namespace)["status"]["podIP"]
    wait_for("db-1.db resolving to db-1's IP", lambda: f"({ip1})" in sh(
        client, "db-0", namespace, "ping -c 1 -W 1 db-1.db 2>&1 | head -1 || true"), 30)
    sh(client, "db-0", namespace, "echo zero > /data/f")
    client.delete("pods", "db-0", namespace)
    wait_for("db-0 back with its data", lambda: sh(
        client, "db-0", namespace, "cat /data/f").strip() == "zero", 60)
    client.patch("statefulsets", "db", namespace, {"spec": {"replicas": 1}})
    wait_for("scaled down to db-0", lambda: sorted(
        p["metadata"]["name"] for p in client.list("pods", namespace)["items"]) == ["db-0"], 60)


def test_job_runs_to_completion_and_failures_are_counted(client: Any, namespace: str) -> None:
    client.apply({"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"name": "ok", "namespace": namespace},
                  "spec": {"completions": 2, "parallelism": 2,
                           "template": template("echo done", restartPolicy="Never")}})
    client.apply({"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"name": "bad", "namespace": namespace},
                  "spec": {"backoffLimit": 1,
                           "template": template("exit 1", restartPolicy="Never")}})

    def condition(job: str) -> str | None:
        for c in (client.get("jobs", job, namespace).get("status") or {}).get(
                "conditions") or []:
            if c.get("status") == "True":
                return str(c.get("type"))
        return None

    wait_for("job ok complete", lambda: condition("ok") == "Complete", 60)
    assert client.get("jobs", "ok", namespace)["status"]["succeeded"] == 2
    wait_for("job bad failed", lambda: condition("bad") == "Failed", 60)
    assert client.get("jobs", "bad", namespace)["status"]["failed"] == 2


def test_daemonset_runs_one_pod(client: Any, namespace: str) -> None:
    client.apply({"apiVersion": "apps/v1", "kind": "DaemonSet",
                  "metadata": {"name": "agent", "namespace": namespace},
                  "spec": {"selector": {"matchLabels": {"app": "t"}},
                           "template": template("exec sleep 3600")}})
    wait_for("daemonset ready", lambda: (client.get("daemonsets", "agent", namespace).get(
        "status") or {}).get("numberReady") == 1, 60)
    assert len(client.list("pods", namespace)["items"]) == 1
