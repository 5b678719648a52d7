"""The scheduling queue on a fake clock: activeQ, backoffQ and the unschedulable pool, the
back-off, the 5-minute flush, queueing hints and events during an attempt (kube-scheduler's
PriorityQueue); and FailedScheduling events aggregated as its recorder does."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.cluster.scheduler import hints
from kompy.cluster.scheduler.failures import FailureEvents
from kompy.cluster.scheduler.hints import ClusterEvent, assigned_pod_events, node_events
from kompy.cluster.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, SchedulingQueue

NODE_ADD = ClusterEvent(hints.NODE, hints.ADD)
POD_DELETE = ClusterEvent(hints.ASSIGNED_POD, hints.DELETE)
NODE_LABEL = ClusterEvent(hints.NODE, hints.UPDATE_NODE_LABEL)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pod(name: str, cpu: str = "", priority: int = 0, ports: tuple[int, ...] = (),
        selector: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "i"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    if ports:
        container["ports"] = [{"containerPort": p, "hostPort": p} for p in ports]
    spec: dict[str, Any] = {"containers": [container], "priority": priority}
    if selector:
        spec["nodeSelector"] = selector
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", **meta},
            "spec": spec}


def node(name: str = "n1", cpu: str = "2", labels: dict[str, str] | None = None,
         **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec,
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"}}}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def queue(clock: Clock, pop_from_backoff: bool = False) -> SchedulingQueue:
    return SchedulingQueue(clock=clock, pop_from_backoff=pop_from_backoff)


def refused(q: SchedulingQueue, p: dict[str, Any], *plugins: str) -> str:
    """Pop ``p`` (it must be next) and report it refused by ``plugins``."""
    qp = q.pop(timeout=0)
    assert qp is not None and qp.key == ("default", p["metadata"]["name"])
    return q.add_unschedulable(qp, plugins)


def test_a_new_pod_is_active_and_popped_once(clock: Clock) -> None:
    q = queue(clock)
    q.add(pod("a"))
    assert q.where(pod("a")) == ACTIVE
    qp = q.pop(timeout=0)
    assert qp is not None and qp.attempts == 1 and q.where(pod("a")) == "InFlight"
    q.done(qp.key)
    assert q.where(pod("a")) == "" and q.pop(timeout=0) is None


def test_active_order_is_priority_then_age(clock: Clock) -> None:
    q = queue(clock)
    for name, prio in (("old", 0), ("high", 10), ("young", 0)):
        q.add(pod(name, priority=prio))
        clock.now += 1
    order = []
    while (qp := q.pop(timeout=0)) is not None:
        order.append(qp.key[1])
        q.done(qp.key)
    assert order == ["high", "old", "young"]


def test_a_refused_pod_waits_until_an_event_its_plugins_care_about(clock: Clock) -> None:
    q = queue(clock)
    wants_ssd = pod("a", selector={"disk": "ssd"})
    q.add(wants_ssd)
    assert refused(q, wants_ssd, "NodeAffinity") == UNSCHEDULABLE
    clock.now += 60
    assert q.pop(timeout=0) is None
    # A bound pod that goes, a node without the label: NodeAffinity does not care.
    assert q.move(POD_DELETE, pod("other", cpu="1"), None) == 0
    assert q.move(NODE_ADD, None, node("n2")) == 0
    assert q.where(wants_ssd) == UNSCHEDULABLE
    # A node relabelled to match: tried again (its back-off long over: activeQ).
    assert q.move(NODE_LABEL, node("n2"), node("n2", labels={"disk": "ssd"})) == 1
    assert q.where(wants_ssd) == ACTIVE


def test_a_pod_moved_during_its_back_off_waits_it_out(clock: Clock) -> None:
    q = queue(clock)
    big = pod("big", cpu="3")
    q.add(big)
    assert refused(q, big, "NodeResourcesFit") == UNSCHEDULABLE
    clock.now += 0.5
    assert q.move(POD_DELETE, pod("gone", cpu="1"), None) == 1
    assert q.where(big) == BACKOFF
    assert q.pop(timeout=0) is None          # 1 s after the failure, not before
    clock.now += 0.49
    assert q.pop(timeout=0) is None
    clock.now += 0.02
    qp = q.pop(timeout=0)
    assert qp is not None and qp.attempts == 2


def test_back_off_doubles_from_one_second_to_ten(clock: Clock) -> None:
    q = queue(clock)
    p = pod("p", cpu="3")
    q.add(p)
    seen = []
    for _ in range(6):
        qp = q.pop(timeout=0)
        assert qp is not None
        q.add_unschedulable(qp, ["NodeResourcesFit"])
        seen.append(q.backoff_seconds(qp))
        q.move(POD_DELETE, pod("gone"), None)
        assert q.where(p) == BACKOFF
        clock.now += seen[-1] - 0.01
        assert q.pop(timeout=0) is None, seen
        clock.now += 0.01
    assert seen == [1, 2, 4, 8, 10, 10]


def test_an_idle_queue_may_take_a_backing_off_pod_early_but_active_pods_first(
        clock: Clock) -> None:
    assert SchedulingQueue().pop_from_backoff is False     # kube-scheduler 1.32's way
    q = queue(clock, pop_from_backoff=True)               # 1.33's SchedulerPopFromBackoffQ
    big = pod("big", cpu="3")
    q.add(big)
    refused(q, big, "NodeResourcesFit")
    q.move(POD_DELETE, pod("gone"), None)
    assert q.where(big) == BACKOFF
    q.add(pod("new"))
    first, second = q.pop(timeout=0), None
    assert first is not None and first.key[1] == "new"
    q.done(first.key)
    second = q.pop(timeout=0)
    assert second is not None and second.key[1] == "big"


def test_an_error_backs_off_and_is_not_taken_early(clock: Clock) -> None:
    q = queue(clock, pop_from_backoff=True)
    q.add(pod("a"))
    qp = q.pop(timeout=0)
    assert qp is not None
    assert q.add_unschedulable(qp, error=True) == BACKOFF
    assert q.pop(timeout=0) is None
    clock.now += 1
    qp = q.pop(timeout=0)
    assert qp is not None
    q.add_unschedulable(qp, error=True)
    assert q.backoff_seconds(qp) == 2 and qp.consecutive_errors == 2
    clock.now += 1.99
    assert q.pop(timeout=0) is None
    clock.now += 0.01
    qp = q.pop(timeout=0)
    assert qp is not None
    q.add_unschedulable(qp, ["NodeResourcesFit"])   # a refusal ends the error count
    assert (qp.consecutive_errors, q.where(qp.key)) == (0, UNSCHEDULABLE)


def test_an_unschedulable_pod_is_tried_again_after_five_minutes(clock: Clock) -> None:
    q = queue(clock)
    p = pod("a", selector={"disk": "ssd"})
    q.add(p)
    refused(q, p, "NodeAffinity")
    clock.now += 299
    assert q.pop(timeout=0) is None
    clock.now += 31                          # the pool is swept every 30 s
    qp = q.pop(timeout=0)
    assert qp is not None and qp.key[1] == "a"


def test_an_event_during_the_attempt_is_weighed_when_it_fails(clock: Clock) -> None:
    q = queue(clock)
    q.add(pod("a", cpu="3"))
    qp = q.pop(timeout=0)
    assert qp is not None
    q.move(NODE_ADD, None, node("n2", cpu="4"))      # came while "a" was being tried
    assert q.add_unschedulable(qp, ["NodeResourcesFit"]) == BACKOFF
    q.add(pod("b", cpu="3"))
    qp = q.pop(timeout=0)
    assert qp is not None and qp.key[1] == "b"
    q.move(NODE_ADD, None, node("n3", cpu="1"))      # too small for "b"
    assert q.add_unschedulable(qp, ["NodeResourcesFit"]) == UNSCHEDULABLE


def test_a_pending_pod_that_changes_is_tried_again_but_not_for_its_status(
        clock: Clock) -> None:
    q = queue(clock)
    p = pod("a", selector={"disk": "ssd"})
    q.add(p)
    refused(q, p, "NodeAffinity")
    clock.now += 5
    q.update({**p, "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]},
              "metadata": {**p["metadata"], "resourceVersion": "9"}})
    assert q.where(p) == UNSCHEDULABLE
    q.update({**p, "spec": {**p["spec"], "nodeSelector": {}}})
    assert q.where(p) == ACTIVE


def test_a_deleted_pod_leaves_every_queue(clock: Clock) -> None:
    q = queue(clock)
    for name in ("a", "b", "c"):
        q.add(pod(name))
    a, b = q.pop(timeout=0), q.pop(timeout=0)
    assert a is not None and b is not None
    q.add_unschedulable(a, ["NodeResourcesFit"])
    q.add_unschedulable(b, error=True)
    for name in ("a", "b", "c"):
        assert q.where(pod(name)) != ""
        q.delete(pod(name))
        assert q.where(pod(name)) == ""
    q.add(pod("d"))
    d = q.pop(timeout=0)
    assert d is not None
    q.delete(pod("d"))                        # while it is being tried
    assert q.add_unschedulable(d, ["NodeResourcesFit"]) == ""
    q.add(pod("e"))
    e = q.pop(timeout=0)
    assert e is not None
    q.delete(pod("e"))
    q.add(pod("e", cpu="1"))                  # made again while the old one is tried
    assert q.add_unschedulable(e, ["NodeResourcesFit"]) == ""
    assert q.where(pod("e")) == ACTIVE
    q.delete(pod("e"))
    clock.now += 400
    assert q.pop(timeout=0) is None
    assert q.summary() == "activeQ:0; backoffQ:0; unschedulablePods:0"


# -- the events of a change, and the hints ---------------------------------------------------
def test_node_events_name_what_changed_and_ignore_heartbeats() -> None:
    n = node()
    assert node_events(None, n) == [NODE_ADD]
    assert node_events(n, None) == [ClusterEvent(hints.NODE, hints.DELETE)]
    beat = {**n, "status": {**n["status"], "conditions": [{"type": "Ready"}]}}
    assert node_events(n, beat) == []
    assert node_events(n, node(cpu="4")) == [ClusterEvent(hints.NODE,
                                                          hints.UPDATE_ALLOCATABLE)]
    assert node_events(n, node(unschedulable=True)) == [ClusterEvent(hints.NODE,
                                                                     hints.UPDATE_TAINT)]
    assert node_events(n, node(labels={"a": "b"})) == [NODE_LABEL]


def test_assigned_pod_events() -> None:
    p = pod("a")
    assert assigned_pod_events(None, p) == [ClusterEvent(hints.ASSIGNED_POD, hints.ADD)]
    assert assigned_pod_events(p, None) == [POD_DELETE]
    assert assigned_pod_events(p, p) == []
    relabelled = {**p, "metadata": {**p["metadata"], "labels": {"x": "y"}}}
    assert assigned_pod_events(p, relabelled) == [
        ClusterEvent(hints.ASSIGNED_POD, hints.UPDATE_POD_LABEL)]


@pytest.mark.parametrize(("plugin", "event", "old", "new", "worth"), [
    ("NodeResourcesFit", NODE_ADD, None, node(cpu="4"), True),
    ("NodeResourcesFit", NODE_ADD, None, node(cpu="2"), False),
    ("NodeResourcesFit", ClusterEvent(hints.NODE, hints.UPDATE_ALLOCATABLE),
     node(cpu="2"), node(cpu="4"), True),
    ("NodeResourcesFit", ClusterEvent(hints.NODE, hints.UPDATE_ALLOCATABLE),
     node(cpu="8"), node(cpu="4"), False),
    ("NodeResourcesFit", POD_DELETE, pod("x"), None, True),
    ("NodeUnschedulable", ClusterEvent(hints.NODE, hints.UPDATE_TAINT),
     node(unschedulable=True), node(), True),
    ("NodeUnschedulable", ClusterEvent(hints.NODE, hints.UPDATE_TAINT),
     node(), node(unschedulable=True), False),
    ("TaintToleration", ClusterEvent(hints.NODE, hints.UPDATE_TAINT),
     node(taints=[{"key": "k", "effect": "NoSchedule"}]), node(), True),
    ("TaintToleration", NODE_ADD, None, node(taints=[{"key": "k", "effect": "NoSchedule"}]),
     False),
    ("NodePorts", POD_DELETE, pod("x", ports=(80,)), None, True),
    ("NodePorts", POD_DELETE, pod("x", ports=(81,)), None, False),
    ("NodeAffinity", POD_DELETE, pod("x"), None, False),
    (hints.NO_NODES, NODE_ADD, None, node(), True),
    ("VolumeBinding", POD_DELETE, pod("x"), None, False),
])
def test_hints(plugin: str, event: ClusterEvent, old: Any, new: Any, worth: bool) -> None:
    waiting = pod("w", cpu="3", ports=(80,))
    assert hints.worth_requeuing(waiting, [plugin], event, old, new) is worth


def test_a_claim_event_moves_only_the_pods_that_use_the_claim() -> None:
    uses = pod("u")
    uses["spec"]["volumes"] = [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]
    claim = {"metadata": {"name": "data", "namespace": "default"}}
    other = {"metadata": {"name": "logs", "namespace": "default"}}
    event = ClusterEvent(hints.CLAIM, hints.DELETE)
    assert hints.worth_requeuing(uses, ["VolumeBinding"], event, claim, None)
    assert not hints.worth_requeuing(uses, ["VolumeBinding"], event, other, None)


# -- FailedScheduling, aggregated -------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.posted: list[tuple[str, int]] = []

    def warning(self, _obj: Any, reason: str, message: str, times: int = 1) -> None:
        assert reason == "FailedScheduling"
        self.posted.append((message, times))


def test_failed_scheduling_is_one_series_written_twice_then_counted(clock: Clock) -> None:
    recorder = Recorder()
    events = FailureEvents(recorder, clock)  # type: ignore[arg-type]
    p = pod("a")
    for _ in range(10):
        events.failed(p, "0/1 nodes are available")
        clock.now += 1
    assert recorder.posted == [("0/1 nodes are available", 1), ("0/1 nodes are available", 1)]
    events.failed(p, "another reason")       # the message changed: the old series is written
    assert recorder.posted[2:] == [("0/1 nodes are available", 8), ("another reason", 1)]
    events.failed(p, "another reason")
    for _ in range(3):
        events.failed(p, "another reason")
    clock.now += 30 * 60
    events.failed(p, "another reason")       # a series going on 30 minutes is written again
    assert recorder.posted[5:] == [("another reason", 4)]
    events.failed(p, "another reason")
    events.finished(p)                        # bound: the rest of the count is written
    assert recorder.posted[6:] == [("another reason", 1)] and len(events) == 0


def test_a_series_nothing_was_added_to_for_six_minutes_ends(clock: Clock) -> None:
    recorder = Recorder()
    events = FailureEvents(recorder, clock)  # type: ignore[arg-type]
    for _ in range(5):
        events.failed(pod("a"), "m")
    clock.now += 5 * 60
    events.tick()
    assert len(events) == 1
    clock.now += 61
    events.tick()
    assert len(events) == 0 and recorder.posted[-1] == ("m", 3)
