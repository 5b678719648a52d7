"""A CronJob on the real Docker engine: its every-minute run completes, and its status says so."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from clusterkit import container, events, wait_for

pytestmark = pytest.mark.integration


def test_cronjob_runs_a_job_to_completion(client: Any, namespace: str) -> None:
    client.apply({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": namespace},
        "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 1,
                 "jobTemplate": {"metadata": {"labels": {"app": "tick"}}, "spec": {
                     "template": {"spec": {"restartPolicy": "Never",
                                           "terminationGracePeriodSeconds": 1,
                                           "containers": [container("c", "echo tick")]}}}}}})

    def status() -> dict[str, Any]:
        return dict(client.get("cronjobs", "tick", namespace).get("status") or {})

    def describe() -> str:
        jobs = client.list("jobs", namespace)["items"]
        pods = client.list("pods", namespace)["items"]
        return (f"status={status()} jobs={[(j['metadata']['name'], j.get('status')) for j in jobs]}"
                f" pods={[(p['metadata']['name'], p['status'].get('phase')) for p in pods]}"
                f" events={[e['reason'] for e in events(client, namespace, 'tick')]}")

    # The first minute boundary comes within 60 s; the pod then runs for about a second.
    done = wait_for("the CronJob's first run to succeed",
                    lambda: status().get("lastSuccessfulTime"), 130, describe)
    st = status()
    jobs = client.list("jobs", namespace)["items"]
    complete = [j for j in jobs if (j.get("status") or {}).get("completionTime") == done]
    assert len(complete) == 1, describe()
    job = complete[0]
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    scheduled = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert scheduled.second == 0 and st["lastScheduleTime"] >= stamp
    job_name = job["metadata"]["name"]
    assert job_name == f"tick-{int(scheduled.timestamp()) // 60}"
    assert job["metadata"]["labels"]["app"] == "tick"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    pods = [p for p in client.list("pods", namespace)["items"]
            if p["metadata"]["labels"].get("job-name") == job_name]
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"], describe()
    log = b"".join(client.logs(pods[0]["metadata"]["name"], namespace)).decode()
    assert log.strip() == "tick"
    reasons = [e["reason"] for e in events(client, namespace, "tick")]
    assert "SuccessfulCreate" in reasons
    wait_for("SawCompletedJob event", lambda: "SawCompletedJob" in [
        e["reason"] for e in events(client, namespace, "tick")], 10, describe)

    # Deleting the CronJob collects its Jobs and their pods.
    client.delete("cronjobs", "tick", namespace)
    wait_for("the CronJob's Jobs and pods to be collected",
             lambda: not client.list("jobs", namespace)["items"]
             and not client.list("pods", namespace)["items"], 60, describe)
