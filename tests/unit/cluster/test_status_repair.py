"""The kubelet's view of a pod's status is authoritative: a field it owns that another
writer changes (``kubectl patch pod --subresource=status``, a controller) is written back,
as upstream's status manager reconciles it; other writers' own conditions stay."""

from __future__ import annotations

import threading
import time
from typing import Any

from kompy.cluster.kubelet.podstatus import merge_foreign, same_kubelet_status

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
