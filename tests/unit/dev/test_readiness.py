"""Readiness of workloads as `kubectl rollout status` judges it; the reasons shown on timeout."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kompy.dev.readiness import explain, wait_ready, workload_status
from kompy.errors import ClusterError


def deployment(replicas: int, ready: int, updated: int, generation: int = 2,
               observed: int = 2, total: int | None = None, available: int | None = None,
               name: str = "web") -> dict[str, Any]:
    """A Deployment's status: ``total`` pods (old and new; default: the updated ones),
    ``available`` (default: the ready ones)."""
    return {"kind": "Deployment", "metadata": {"name": name, "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "readyReplicas": ready,
                       "updatedReplicas": updated,
                       "replicas": updated if total is None else total,
                       "availableReplicas": ready if available is None else available}}


def sts(ready: int = 1, updated: int = 1, observed: int = 1, strategy: str = "RollingUpdate",
        rolling: dict[str, Any] | None = {"partition": 0},  # noqa: B006 - never changed
        update: str = "r1", current: str = "r1") -> dict[str, Any]:
    strategy_spec: dict[str, Any] = {"type": strategy}
    if rolling is not None:
        strategy_spec["rollingUpdate"] = rolling
    return {"kind": "StatefulSet", "metadata": {"name": "db", "generation": 1},
            "spec": {"replicas": 1, "updateStrategy": strategy_spec},
            "status": {"observedGeneration": observed, "readyReplicas": ready,
                       "updatedReplicas": updated, "updateRevision": update,
                       "currentRevision": current}}


def daemonset(desired: int, updated: int, available: int, observed: int = 1
              ) -> dict[str, Any]:
    return {"kind": "DaemonSet", "metadata": {"name": "d", "generation": 1},
            "spec": {"updateStrategy": {"type": "RollingUpdate"}},
            "status": {"observedGeneration": observed, "desiredNumberScheduled": desired,
                       "numberReady": available, "updatedNumberScheduled": updated,
                       "numberAvailable": available}}


@pytest.mark.parametrize(
    ("obj", "done"),
    [
        (deployment(2, 2, 2), True),
        (deployment(2, 1, 2), False),
        (deployment(2, 2, 1), False),  # an old replica set still serves
        (deployment(2, 2, 2, generation=3), False),  # the controller has not seen the change
        (deployment(0, 0, 0), True),
        # kubectl's rules: an old replica pending termination, or an updated one not
        # available yet (ready, but not for minReadySeconds), is not rolled out.
        (deployment(1, 2, 1, total=2), False),
        (deployment(1, 1, 1, available=0), False),
        (deployment(1, 1, 1, observed=1), False),
        (sts(observed=0), False),                     # the controller has not seen it
        (sts(), True),                                # partition 0 (the server's default)
        (sts(updated=0), False),
        (sts(ready=0), False),
        (sts(rolling=None, update="r2", current="r1"), False),
        (sts(rolling=None, update="r2", current="r2"), True),
        # kubectl refuses OnDelete; the wait waits for the pods there are to be ready
        (sts(strategy="OnDelete", ready=0), False),
        (sts(strategy="OnDelete", ready=1, updated=0), True),
        ({"kind": "DaemonSet", "metadata": {"name": "d", "generation": 1}, "status": {}},
         False),
        (daemonset(desired=1, updated=1, available=1), True),
        (daemonset(desired=1, updated=0, available=1), False),   # an old pod still runs
        (daemonset(desired=2, updated=2, available=1), False),
        (daemonset(desired=1, updated=1, available=1, observed=0), False),
        ({"kind": "Job", "metadata": {"name": "j"}, "spec": {}, "status": {"succeeded": 1}},
         True),
        ({"kind": "Pod", "metadata": {"name": "p"},
          "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, True),
        ({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Pending"}}, False),
    ],
)
def test_workload_status(obj: dict[str, Any], done: bool) -> None:
    assert workload_status(obj).done is done


def test_a_deployment_past_its_progress_deadline_fails() -> None:
    dep = deployment(1, 0, 1)
    dep["status"]["conditions"] = [{"type": "Progressing", "status": "False",
                                    "reason": "ProgressDeadlineExceeded"}]
    assert workload_status(dep).failed == "deployment 'web' exceeded its progress deadline"


def test_the_wait_says_what_the_rollout_waits_for() -> None:
    assert workload_status(deployment(1, 2, 1, total=2)).text() == \
        "web 2/1 (1 old replicas are pending termination)"


def test_failed_job_reports_why() -> None:
    job = {"kind": "Job", "metadata": {"name": "migrate"}, "spec": {},
           "status": {"conditions": [{"type": "Failed", "status": "True",
                                      "reason": "BackoffLimitExceeded"}]}}
    assert workload_status(job).failed == "BackoffLimitExceeded"


class FakeClient:
    """Answers list/watch from fixed objects (keyed by name, each with its kind); a watch of
    a kind with a pending transition delivers it (the object becomes the next one), any
    other watch ends without an event, as a server's watch that times out."""

    def __init__(self, objects: dict[str, dict[str, Any]], pods: list[dict[str, Any]],
                 events: list[dict[str, Any]] | None = None,
                 transitions: list[dict[str, Any]] | None = None) -> None:
        self.objects = objects
        self.pods = pods
        self.events = events or []
        self.transitions = list(transitions or [])
        self.watches: list[str] = []
        self.lock = threading.Lock()

    def list(self, resource: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        items = {"pods": self.pods, "events": self.events}.get(resource)
        if items is None:
            items = [o for o in self.objects.values() if o.get("kind") == resource]
        return {"metadata": {"resourceVersion": "7"}, "items": items}

    def watch(self, resource: str, namespace: str | None = None, **_: Any) -> Any:
        with self.lock:
            self.watches.append(resource)
            step = self.transitions.pop(0) if self.transitions and \
                self.transitions[0]["kind"] == resource else None
        if step is None:
            time.sleep(0.01)   # the server ends a watch without events after a while
            return
        self.objects[step["metadata"]["name"]] = step
        yield "MODIFIED", step


PENDING_POD = {
    "metadata": {"name": "web-abc"},
    "status": {"phase": "Pending", "containerStatuses": [
        {"name": "web", "ready": False, "restartCount": 3,
         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
         "lastState": {"terminated": {"exitCode": 1}}}]},
}


def test_wait_ready_prints_progress_until_ready() -> None:
    client = FakeClient({"web": deployment(1, 0, 0)}, [], transitions=[deployment(1, 1, 1)])
    lines: list[str] = []
    assert wait_ready(client, "ns", [("Deployment", "web")], 30,  # type: ignore[arg-type]
                      lines.append) is True
    assert lines == ["ready: web 0/1 (0 out of 1 new replicas have been updated)",
                     "ready: web 1/1"]
    assert "Deployment" in client.watches   # woken by the Deployment's change, not a timer


def test_an_on_delete_set_ends_the_wait_and_says_its_old_pods_stay() -> None:
    """kubectl refuses OnDelete; the wait neither hangs on pods nobody replaces nor calls
    them updated: once the pods are ready it ends, and its line says which are old."""
    old = sts(strategy="OnDelete", ready=0, updated=0, update="r2", current="r1")
    client = FakeClient({"db": old}, [], transitions=[
        sts(strategy="OnDelete", ready=1, updated=0, update="r2", current="r1")])
    lines: list[str] = []
    assert wait_ready(client, "ns", [("StatefulSet", "db")], 30,  # type: ignore[arg-type]
                      lines.append) is True
    assert lines == [
        "ready: db 0/1 (waiting for 1 pods to be ready; OnDelete: 0 of 1 pods run the new "
        "spec, the others keep the old one until they are deleted)",
        "ready: db 1/1 (OnDelete: 0 of 1 pods run the new spec, the others keep the old one "
        "until they are deleted)"]


def test_timeout_names_the_pods_and_their_reasons() -> None:
    events = [{"involvedObject": {"name": "web-abc"}, "type": "Warning", "reason": "BackOff",
               "message": "Back-off restarting failed container"}]
    client = FakeClient({"web": deployment(1, 0, 0)}, [PENDING_POD], events)
    with pytest.raises(ClusterError) as info:
        wait_ready(client, "ns", [("Deployment", "web")], 0, lambda _: None)  # type: ignore[arg-type]
    text = info.value.format()
    assert "timed out after 0 s waiting for web 0/1 (0 out of 1 new replicas have been " \
        "updated)" in text
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

    def watch(self, resource: str, *args: Any, **kwargs: Any) -> Any:
        waiting = self.pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
        waiting["reason"] = "ImagePullBackOff"
        return super().watch(resource, *args, **kwargs)

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
        def watch(self, resource: str, *args: Any, **kwargs: Any) -> Any:
            return FakeClient.watch(self, resource, *args, **kwargs)

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


def test_a_newer_change_interrupts_the_wait() -> None:
    """kompy dev's next save must not wait behind a rollout: the wait ends (False) as soon
    as ``interrupted`` says so, long before its timeout."""
    client = FakeClient({"web": deployment(1, 0, 0)}, [])
    asked = []

    def interrupted() -> bool:
        asked.append(1)
        return len(asked) >= 3

    began = time.monotonic()
    assert wait_ready(client, "ns", [("Deployment", "web")], 60,  # type: ignore[arg-type]
                      lambda _: None, interrupted=interrupted) is False
    assert time.monotonic() - began < 10


def test_the_settling_time_is_interrupted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rolled out, the containers' first second (STABLE) is waited for on the same terms."""
    from kompy.dev import readiness

    monkeypatch.setattr(readiness, "_youngest", lambda pods: 30.0)
    client = FakeClient({"web": deployment(1, 1, 1)}, [])
    began = time.monotonic()
    assert wait_ready(client, "ns", [("Deployment", "web")], 60,  # type: ignore[arg-type]
                      lambda _: None, interrupted=lambda: time.monotonic() - began > 0.2) \
        is False
    assert time.monotonic() - began < 10


def test_an_old_pod_still_serving_is_not_a_finished_rollout() -> None:
    """The new pod is not ready yet; the old one is: kubectl keeps waiting ("1 old replicas
    are pending termination"), and so does the wait, until the old one is gone."""
    client = FakeClient({"web": deployment(1, 1, 1, total=2, available=1)}, [],
                        transitions=[deployment(1, 1, 1)])
    lines: list[str] = []
    assert wait_ready(client, "ns", [("Deployment", "web")], 30,  # type: ignore[arg-type]
                      lines.append) is True
    assert lines == ["ready: web 1/1 (1 old replicas are pending termination)",
                     "ready: web 1/1"]


def test_a_bare_pod_is_judged_from_the_pods_list() -> None:
    pod = {"metadata": {"name": "p"}, "status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    lines: list[str] = []
    assert wait_ready(FakeClient({}, [pod]), "ns", [("Pod", "p")], 30,  # type: ignore[arg-type]
                      lines.append) is True
    assert lines == ["ready: p 1/1"]


class _RacingClient(FakeClient):
    """The race CI met: the Deployment turns available because its pod's container was
    seen running for a moment, and by then the container has died. Listing the Deployment
    moves the world on (pods listed before it are older than its status)."""

    def list(self, resource: str, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        answer = super().list(resource, namespace, **kw)
        if resource == "Deployment":
            self.objects["web"] = deployment(1, 1, 1)
            self.pods[:] = [{
                "metadata": {"name": "web-abc"}, "spec": {"restartPolicy": "Always"},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "web", "ready": False, "restartCount": 0,
                     "containerID": "docker://c1",
                     "state": {"terminated": {"exitCode": 4, "containerID": "docker://c1"}}}]}}]
        return answer


def test_a_program_that_died_at_once_is_not_up_whatever_an_older_status_says() -> None:
    client = _RacingClient({"web": deployment(1, 0, 0)}, [
        {"metadata": {"name": "web-abc"}, "spec": {"restartPolicy": "Always"},
         "status": {"phase": "Pending", "containerStatuses": [
             {"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}]}}])
    lines: list[str] = []
    with pytest.raises(ClusterError, match="the containers to run 1 s without dying"):
        wait_ready(client, "ns", [("Deployment", "web")], 1.5,  # type: ignore[arg-type]
                   lines.append)
