"""Readiness of workloads as `kubectl rollout status` judges it; the reasons shown on timeout."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client import NotFound
from kompy.dev.readiness import explain, wait_ready, workload_status
from kompy.errors import ClusterError


def deployment(replicas: int, ready: int, updated: int, generation: int = 2,
               observed: int = 2) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "readyReplicas": ready,
                       "updatedReplicas": updated}}


@pytest.mark.parametrize(
    ("obj", "done"),
    [
        (deployment(2, 2, 2), True),
        (deployment(2, 1, 2), False),
        (deployment(2, 2, 1), False),  # an old replica set still serves
        (deployment(2, 2, 2, generation=3), False),  # the controller has not seen the change
        (deployment(0, 0, 0), True),
        ({"kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"replicas": 1},
          "status": {"readyReplicas": 1}}, True),
        ({"kind": "DaemonSet", "metadata": {"name": "d"}, "status": {}}, False),
        ({"kind": "DaemonSet", "metadata": {"name": "d"},
          "status": {"desiredNumberScheduled": 1, "numberReady": 1}}, True),
        ({"kind": "Job", "metadata": {"name": "j"}, "spec": {}, "status": {"succeeded": 1}},
         True),
        ({"kind": "Pod", "metadata": {"name": "p"},
          "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, True),
        ({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Pending"}}, False),
    ],
)
def test_workload_status(obj: dict[str, Any], done: bool) -> None:
    assert workload_status(obj).done is done


def test_failed_job_reports_why() -> None:
    job = {"kind": "Job", "metadata": {"name": "migrate"}, "spec": {},
           "status": {"conditions": [{"type": "Failed", "status": "True",
                                      "reason": "BackoffLimitExceeded"}]}}
    assert workload_status(job).failed == "BackoffLimitExceeded"


class FakeClient:
    """Answers get/list/watch from fixed objects; counts the watches."""

    def __init__(self, objects: dict[str, dict[str, Any]], pods: list[dict[str, Any]],
                 events: list[dict[str, Any]] | None = None) -> None:
        self.objects = objects
        self.pods = pods
        self.events = events or []
        self.watches = 0

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        if name not in self.objects:
            raise NotFound(f"{kind} {name} not found")
        return self.objects[name]

    def list(self, resource: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        items = {"pods": self.pods, "events": self.events}.get(resource, [])
        return {"metadata": {"resourceVersion": "7"}, "items": items}

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        self.watches += 1
        self.objects["web"] = deployment(1, 1, 1)  # becomes ready after the first change
        yield "MODIFIED", {}


PENDING_POD = {
    "metadata": {"name": "web-abc"},
    "status": {"phase": "Pending", "containerStatuses": [
        {"name": "web", "ready": False, "restartCount": 3,
         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
         "lastState": {"terminated": {"exitCode": 1}}}]},
}


def test_wait_ready_prints_progress_until_ready() -> None:
    client = FakeClient({"web": deployment(1, 0, 0)}, [])
    lines: list[str] = []
    wait_ready(client, "ns", [("Deployment", "web")], 30, lines.append)  # type: ignore[arg-type]
    assert lines == ["ready: web 0/1", "ready: web 1/1"]
    assert client.watches == 1


def test_timeout_names_the_pods_and_their_reasons() -> None:
    events = [{"involvedObject": {"name": "web-abc"}, "type": "Warning", "reason": "BackOff",
               "message": "Back-off restarting failed container"}]
    client = FakeClient({"web": deployment(1, 0, 0)}, [PENDING_POD], events)
    client.watch = lambda *a, **k: iter(())  # type: ignore[method-assign]
    with pytest.raises(ClusterError) as info:
        wait_ready(client, "ns", [("Deployment", "web")], 0, lambda _: None)  # type: ignore[arg-type]
    text = info.value.format()
    assert "timed out after 0 s waiting for web 0/1" in text
    assert "pod web-abc: Pending" in text
    assert ("container web waiting: CrashLoopBackOff: back-off 40s (restarted 3 times); "
            "last exit code 1") in text
    assert "event Warning BackOff: Back-off restarting failed container" in text


def test_explain_skips_ready_pods() -> None:
    ready = {"metadata": {"name": "ok"}, "status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    client = FakeClient({}, [ready])
    assert explain(client, "ns") == ""  # type: ignore[arg-type]
