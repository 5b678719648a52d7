"""A pod's deletion marks as kube-apiserver's rest.BeforeDelete and the Pod strategy's
CheckGracefulDelete set them: deletionTimestamp is when the pod is to be gone, and a later
DELETE may move it (and the grace period) earlier, never later."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kompy.client import tables
from kompy.client.errors import NotFound
from kompy.client.resources import lookup
from kompy.cluster.store.deletion import Deletion, first_pod_deletion, pod_grace, shortened
from kompy.cluster.store.sqlite import Store

PODS = lookup("pods")
T0 = datetime(2026, 12, 7, 5, 0, 0, tzinfo=UTC)


def pod(node: str | None = "n1", phase: str | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": "a", "namespace": "default"},
                            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
    if node:
        body["spec"]["nodeName"] = node
    if phase:
        body["status"] = {"phase": phase}
    return body


@pytest.mark.parametrize(("obj", "asked", "grace"), [
    (pod(), None, 30),                                          # the default
    (pod(terminationGracePeriodSeconds=5), None, 5),            # the pod's own
    (pod(terminationGracePeriodSeconds=5), 60, 60),             # the request's wins
    (pod(), -3, 1),                                             # negative: 1 s
    (pod(node=None), 30, 0),                                    # no node runs it
    (pod(phase="Succeeded"), None, 0),                          # nothing left to stop
    (pod(phase="Failed"), 10, 0),
    (pod(), 0, 0),                                              # --force --grace-period=0
])
def test_check_graceful_delete(obj: dict[str, Any], asked: int | None, grace: int) -> None:
    assert pod_grace(obj, asked) == grace


def test_the_first_deletion_stamps_the_moment_the_pod_is_to_be_gone() -> None:
    assert first_pod_deletion(pod(), None, T0) == Deletion("2026-12-07T05:00:30Z", 30)


@pytest.mark.parametrize(("asked", "moved"), [
    (1, Deletion("2026-12-07T05:00:01Z", 1)),    # 30 s asked at 05:00:00, then 1 s
    (10, Deletion("2026-12-07T05:00:10Z", 10)),
    (0, Deletion("2026-12-07T05:00:00Z", 0)),     # the kubelet's final delete
    (-5, Deletion("2026-12-07T05:00:01Z", 1)),
    (30, None), (45, None), (None, None),          # never later; nothing asked: pending
])
def test_a_second_deletion_only_moves_the_marks_earlier(asked: int | None,
                                                       moved: Deletion | None) -> None:
    meta = {"deletionTimestamp": "2026-12-07T05:00:30Z", "deletionGracePeriodSeconds": 30}
    assert shortened(meta, asked) == moved


def test_an_object_marked_without_a_grace_period_is_not_shortened() -> None:
    assert shortened({"deletionTimestamp": "2026-12-07T05:00:00Z",
                      "deletionGracePeriodSeconds": 0}, 1) is None


def test_the_store_moves_a_pods_marks_earlier_and_never_later(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    store.create(PODS, pod())
    first = store.delete(PODS, "default", "a")
    assert first is not None
    stamp = datetime.strptime(first["metadata"]["deletionTimestamp"],
                              "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    ahead = (stamp - datetime.now(UTC)).total_seconds()
    assert 25 < ahead <= 30 and first["metadata"]["deletionGracePeriodSeconds"] == 30
    version = first["metadata"]["resourceVersion"]
    # A longer or unstated grace period changes nothing (no write, same version).
    for asked in (60, None, 30):
        same = store.delete(PODS, "default", "a", grace_period=asked)
        assert same is not None and same["metadata"]["resourceVersion"] == version
    moved = store.delete(PODS, "default", "a", grace_period=1)
    assert moved is not None and moved["metadata"]["deletionGracePeriodSeconds"] == 1
    assert moved["metadata"]["deletionTimestamp"] == shortened(
        first["metadata"], 1).timestamp   # type: ignore[union-attr]
    assert int(moved["metadata"]["resourceVersion"]) > int(version)
    # The kubelet's final delete removes it.
    assert store.delete(PODS, "default", "a", grace_period=0) is None
    with pytest.raises(NotFound):
        store.get(PODS, "default", "a")


def test_a_finished_pod_is_removed_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    store.create(PODS, pod())
    store.update(PODS, {**store.get(PODS, "default", "a"), "status": {"phase": "Succeeded"}},
                 status=True)
    assert store.delete(PODS, "default", "a") is None


def test_kubectl_shows_a_deletion_timestamp_ahead_as_invalid() -> None:
    # describe's "Terminating (lasts <invalid>)" during the grace period, as kubectl says it.
    assert tables.age("2026-12-07T05:00:30Z", T0) == "<invalid>"
    assert tables.age("2026-12-07T05:00:01Z", T0) == "0s"
    assert tables.age("2026-12-07T04:59:15Z", T0) == "45s"
