"""The kubelet's view of a pod's status is authoritative: a field it owns that another
writer changes (``kubectl patch pod --subresource=status``, a controller) is written back,
as upstream's status manager reconciles it; other writers' own conditions stay."""

from __future__ import annotations

import threading
import time
from typing import Any

from kompy.client import Conflict
from kompy.cluster.kubelet.podstatus import merge_foreign, same_kubelet_status
from kompy.cluster.kubelet.statuses import StatusManager

IMAGE = "kompy/busybox:1"


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": IMAGE}]}}


def status(cluster: Any, name: str) -> dict[str, Any]:
    found = cluster.pod(name)
    return dict((found or {}).get("status") or {})


def condition(st: dict[str, Any], kind: str) -> str | None:
    return next((c.get("status") for c in st.get("conditions") or [] if c.get("type") == kind),
                None)


def test_an_overwritten_phase_and_condition_are_written_back(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("web"))
    running = fake_cluster.wait("web ready", lambda: fake_cluster.ready("web") and
                                fake_cluster.running("web", "app"))
    before = status(fake_cluster, "web")
    conditions = [{**c, "status": "False"} if c["type"] == "Ready" else c
                  for c in before["conditions"]]
    fake_cluster.client.patch("pods", "web", "default", {"status": {
        "phase": "Failed", "conditions": conditions}}, subresource="status")

    repaired = fake_cluster.wait("the kubelet's status back", lambda: (
        st := status(fake_cluster, "web")) and st.get("phase") == "Running" and
        condition(st, "Ready") == "True" and st, timeout=15)
    assert repaired["containerStatuses"][0]["containerID"] == f"docker://{running.id}"
    # The kubelet did not take the written phase for its own: the pod runs on.
    assert fake_cluster.running("web", "app") is not None
    assert not fake_cluster.backend.called("kill")


def test_another_writer_s_own_condition_stays(fake_cluster: Any) -> None:
    fake_cluster.client.create(pod("gated"))
    fake_cluster.wait("gated ready", lambda: fake_cluster.ready("gated"))
    st = status(fake_cluster, "gated")
    gate = {"type": "example.com/gate", "status": "True", "lastProbeTime": None,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}
    fake_cluster.client.patch("pods", "gated", "default", {"status": {
        "conditions": [*st["conditions"], gate]}}, subresource="status")
    # A change that makes the kubelet write: the container restarts.
    app = fake_cluster.running("gated", "app")
    fake_cluster.backend.exit(app.id, 1)
    fake_cluster.wait("the restart reported", lambda: (
        fake_cluster.status_of("gated", "app").get("restartCount") == 1))
    assert condition(status(fake_cluster, "gated"), "example.com/gate") == "True"


def test_a_writer_that_keeps_overwriting_is_answered_at_most_once_a_second(
        fake_node: Any) -> None:
    cluster = fake_node.start()
    kubelet = fake_node.runtime.kubelet
    cluster.client.create(pod("fought"))
    cluster.wait("fought ready", lambda: cluster.ready("fought"))
    writes: list[float] = []
    lock = threading.Lock()
    replace = kubelet.client.replace_status

    def counted(obj: dict[str, Any]) -> dict[str, Any]:
        with lock:
            writes.append(time.monotonic())
        return replace(obj)

    kubelet.client.replace_status = counted
    began, theirs = time.monotonic(), 0
    while time.monotonic() - began < 3.0:  # another writer, as fast as the API answers
        cluster.client.patch("pods", "fought", "default", {"status": {"phase": "Unknown"}},
                             subresource="status")
        theirs += 1
    cluster.wait("the kubelet's phase back", lambda: (
        status(cluster, "fought").get("phase") == "Running"), timeout=15)
    with lock:
        during = [t for t in writes if t - began < 3.0]
    assert 1 <= len(during) <= 4, f"{len(during)} writes in 3 s of another writer's {theirs}"


def test_the_comparison_ignores_other_writers_conditions_and_fields() -> None:
    mine = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
    theirs = {**mine, "nominatedNodeName": "n2", "conditions": [
        *mine["conditions"], {"type": "DisruptionTarget", "status": "True"}]}
    assert same_kubelet_status(theirs, mine)
    assert not same_kubelet_status({**theirs, "phase": "Failed"}, mine)
    merged = merge_foreign(theirs, {**mine, "phase": "Succeeded"})
    assert merged["phase"] == "Succeeded" and merged["nominatedNodeName"] == "n2"
    assert {"type": "DisruptionTarget", "status": "True"} in merged["conditions"]


def test_an_overwrite_whose_watch_event_was_missed_is_found_by_the_sweep(
        fake_node: Any, monkeypatch: Any) -> None:
    """As upstream's syncBatch: every pod's status is compared with the kubelet's
    periodically, so an overwrite that no watch event woke the pod for (a watch that broke
    and relisted) is written back too. Here the event is handled as if the status did
    not differ; the sweep (every 0.5 s in this test, 10 s by default) repairs it."""
    from kompy.cluster.kubelet import statuses

    monkeypatch.setattr(statuses, "SWEEP_SECONDS", 0.5, raising=False)
    cluster = fake_node.start()
    kubelet = fake_node.runtime.kubelet
    cluster.client.create(pod("missed"))
    cluster.wait("missed ready", lambda: cluster.ready("missed"))
    real = kubelet.statuses.needs_repair
    kubelet.statuses.needs_repair = lambda obj: False  # the watch event is lost
    try:
        written = cluster.client.patch("pods", "missed", "default",
                                       {"status": {"phase": "Failed"}}, subresource="status")
        version = written["metadata"]["resourceVersion"]
        cluster.wait("the kubelet's informer to have the overwrite", lambda: any(
            p["metadata"]["resourceVersion"] == version for p in kubelet._known.values()))
    finally:
        kubelet.statuses.needs_repair = real
    cluster.wait("the sweep writing the kubelet's phase back",
                 lambda: status(cluster, "missed").get("phase") == "Running", timeout=15)


def test_the_sweep_finds_only_pods_another_writer_changed() -> None:
    manager = StatusManager()
    mine = {"metadata": {"uid": "a", "resourceVersion": "5"},
            "status": {"phase": "Running"}}
    manager.record(mine)
    other = {"metadata": {"uid": "b", "resourceVersion": "6"}, "status": {"phase": "Running"}}
    manager.record(other)
    overwritten = {**other, "metadata": {"uid": "b", "resourceVersion": "7"},
                   "status": {"phase": "Failed"}}
    unknown = {"metadata": {"uid": "c", "resourceVersion": "9"}, "status": {}}
    assert manager.stale([mine, overwritten, unknown]) == ["b"]


def test_a_status_write_that_gave_up_on_conflicts_is_written_by_the_next_sweep(
        fake_cluster: Any) -> None:
    """Three Conflicts in a row make a status write give up; the pod stays in the status
    manager's care until a write lands (upstream's needsUpdate): the sweep writes it."""
    kubelet = fake_cluster.runtime.kubelet
    replace_status = kubelet.client.replace_status
    conflicts = threading.Semaphore(3)
    met: list[str] = []

    def conflicting(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["metadata"]["name"] == "contended" and conflicts.acquire(blocking=False):
            met.append(obj["status"].get("phase"))
            raise Conflict(409, "Conflict", "the object has been modified")
        written: dict[str, Any] = replace_status(obj)
        return written

    kubelet.client.replace_status = conflicting
    fake_cluster.client.create(pod("contended"))
    fake_cluster.wait("three Conflicts", lambda: len(met) == 3)
    fake_cluster.wait("the container", lambda: fake_cluster.running("contended", "app"))
    kubelet.sweep_statuses()  # (the 10 s loop's; called here so the test need not wait)
    fake_cluster.wait("the kubelet's status written", lambda: status(
        fake_cluster, "contended").get("phase") == "Running", timeout=15)


def test_the_status_manager_keeps_an_unwritten_pod_until_a_write_lands() -> None:
    manager = StatusManager()
    web = {**pod("web"), "metadata": {"name": "web", "uid": "u1", "resourceVersion": "5"}}
    manager.gave_up("u1")
    assert manager.unwritten([web]) == ["u1"]
    manager.record(web)
    assert manager.unwritten([web]) == []
    manager.gave_up("u1")
    manager.forget("u1")
    assert manager.unwritten([web]) == []
