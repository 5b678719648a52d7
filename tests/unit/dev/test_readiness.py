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


PULL_POD = {
    "metadata": {"name": "api-xyz"},
    "status": {"phase": "Pending", "containerStatuses": [
        {"name": "api", "image": "nosuch:1", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ErrImagePull", "message": "no such host"}}}]},
}


class StuckClient(FakeClient):
    """Nothing ever gets ready; the pod's waiting reason moves on after each watch, as the
    kubelet's does (ErrImagePull, then ImagePullBackOff)."""

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        self.watches += 1
        waiting = self.pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
        waiting["reason"] = "ImagePullBackOff"
        return iter(())

    def logs(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an image that cannot be pulled has no log")


def test_a_hopeless_pod_fails_the_wait_after_the_grace() -> None:
    import time

    client = StuckClient({"api": {**deployment(1, 0, 0), "metadata": {"name": "api"}}},
                         [PULL_POD])
    began = time.monotonic()
    with pytest.raises(ClusterError) as info:
        wait_ready(client, "ns", [("Deployment", "api")], 60, lambda _: None,  # type: ignore[arg-type]
                   grace=0.3)
    took = time.monotonic() - began
    # The grace ran across the change of words (ErrImagePull -> ImagePullBackOff), and the
    # wait did not run out its 60 s.
    assert 0.3 <= took < 30
    assert info.value.message == ("pod/api-xyz: container api is waiting to start: nosuch:1 "
                                  "can't be pulled (no such host)")
    assert "check the image name" in (info.value.hint or "")
    assert info.value.exit_code == 2


def test_a_crash_loop_failure_carries_the_last_output() -> None:
    class Crashing(StuckClient):
        def watch(self, *args: Any, **kwargs: Any) -> Any:
            self.watches += 1
            return iter(())

        def logs(self, pod: str, namespace: str, container: str, *, previous: bool = False,
                 tail_lines: int | None = None, **_: Any) -> Any:
            assert previous and tail_lines == 10
            return iter([b"starting\nTraceback (most recent call last):\nKeyError: 'DB'\n"])

    client = Crashing({"web": deployment(1, 0, 0)}, [PENDING_POD])
    with pytest.raises(ClusterError) as info:
        wait_ready(client, "ns", [("Deployment", "web")], 60, lambda _: None,  # type: ignore[arg-type]
                   grace=0.0)
    assert info.value.message == ("pod/web-abc: container web keeps crashing: exit code 1, "
                                  "restarted 3 times")
    assert info.value.hint == ("its last output (kompy logs web-abc -c web --previous -n ns):\n"
                               "    starting\n    Traceback (most recent call last):\n"
                               "    KeyError: 'DB'")


def test_an_old_replica_sets_crashing_pod_does_not_fail_a_rollout() -> None:
    from kompy.dev.diagnose import current_pods, problems

    def owned(name: str, kind: str, owner: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "ownerReferences": [
            {"kind": kind, "name": owner, "controller": True}]}}

    class Sets(FakeClient):
        def list(self, resource: str, namespace: str | None = None, **_: Any) -> Any:
            revision = "deployment.kubernetes.io/revision"
            items = {
                "replicasets": [
                    {**owned("web-old", "Deployment", "web"),
                     "metadata": {**owned("web-old", "Deployment", "web")["metadata"],
                                  "annotations": {revision: "1"}}},
                    {**owned("web-new", "Deployment", "web"),
                     "metadata": {**owned("web-new", "Deployment", "web")["metadata"],
                                  "annotations": {revision: "2"}}}],
                "deployments": [{"metadata": {"name": "web", "annotations": {revision: "2"}}}],
            }.get(resource, [])
            return {"metadata": {}, "items": items}

    old = {**owned("web-old-1", "ReplicaSet", "web-old"), "status": PENDING_POD["status"]}
    new = {**owned("web-new-1", "ReplicaSet", "web-new"), "status": PENDING_POD["status"]}
    current = current_pods(Sets({}, []), "ns", [old, new])  # type: ignore[arg-type]
    assert current == {"web-new-1"}
    assert [p.pod for p in problems([old, new], current)] == ["web-new-1"]
