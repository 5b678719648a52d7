"""The scheduling queue: kube-scheduler's PriorityQueue (pkg/scheduler/backend/queue), with
its three parts.

- **activeQ**: the pods to try now, highest ``spec.priority`` first, then the longest waiting
  (the PrioritySort plugin's order).
- **backoffQ**: pods that failed and wait out their back-off before they go to activeQ. The
  back-off is ``initial`` (1 s) doubled per failed attempt up to ``maximum`` (10 s), counted
  from the failure (kube-scheduler's podInitialBackoffSeconds / podMaxBackoffSeconds). A
  pod that failed for an error (the bind was refused, the API failed) waits in a second heap
  with its own count of consecutive errors, as upstream's podErrorBackoffQ.
- **unschedulablePods**: pods that no node could take. Each remembers the filter plugins that
  refused it; a cluster event moves it out only when one of those plugins says the event may
  let it in (:meth:`SchedulingQueue.move`, upstream's MoveAllToActiveOrBackoffQueue with its
  queueing hints). A pod still backing off goes to backoffQ, otherwise to activeQ. One that
  waits longer than ``max_unschedulable`` (5 min) is moved anyway, whatever happened
  (podMaxInUnschedulablePodsDuration; the pool is swept every 30 s), so a missed event
  costs at most that long.

Events while a pod is being scheduled (in flight) are kept and weighed when it comes back
unschedulable: the decision was made on a snapshot taken before them, so a node freed during
the attempt must not be missed (upstream's inFlightEvents).

The back-off is waited out even when the scheduler is idle: kube-scheduler 1.33's
SchedulerPopFromBackoffQ (an idle scheduler takes backing-off pods early) is here only an
option (``pop_from_backoff``), off by default, as in kube-scheduler up to 1.32. Why: in Go
an idle scheduler's cycles are free, here they are not: the scheduler shares one process
and its GIL with the API server, the controllers and the kubelet, and with it on, 100 pods
too big for any node were tried again on every pod deletion (``bench_scheduler.py --case
churn``, one run each at load 10: 1.55 s of the scheduler's CPU over the churn against
0.37 s when the back-off is waited out). Pods backing off after an error are never taken
early.

Thread-safe: the informers' threads add pods and report events, the scheduler's thread pops.
Time comes from ``clock`` so that tests drive it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import Obj, name, namespace
from kompy.cluster.scheduler.hints import (
    UNSCHEDULED_POD,
    UPDATE,
    ClusterEvent,
    interesting,
    worth_requeuing,
)

INITIAL_BACKOFF = 1.0          # podInitialBackoffSeconds
MAX_BACKOFF = 10.0             # podMaxBackoffSeconds
MAX_UNSCHEDULABLE = 300.0      # podMaxInUnschedulablePodsDuration
# How often the unschedulable pool is swept for pods past MAX_UNSCHEDULABLE (as upstream).
LEFTOVER_SWEEP = 30.0

Key = tuple[str, str]          # (namespace, name)

# Where a pod went, as upstream names the queues (tests and logs read it).
ACTIVE, BACKOFF, UNSCHEDULABLE = "Active", "Backoff", "Unschedulable"


def pod_key(pod: Obj) -> Key:
    return namespace(pod), name(pod)


def _priority(pod: Obj) -> int:
    try:
        return int((pod.get("spec") or {}).get("priority") or 0)
    except (TypeError, ValueError):
        return 0


def scheduling_properties(pod: Obj) -> Any:
    """What of a pending pod can change where it fits: all but its status and the fields
    the API server bumps on every write (upstream's isPodUpdated)."""
    meta = {k: v for k, v in (pod.get("metadata") or {}).items()
            if k not in ("resourceVersion", "generation", "managedFields", "finalizers")}
    return meta, pod.get("spec")


@dataclass
class QueuedPod:
    """A pending pod and its scheduling history (upstream's QueuedPodInfo)."""

    pod: Obj
    timestamp: float                   # added, or last failed
    attempts: int = 0                  # times popped
    unschedulable_count: int = 0       # failed attempts that plugins refused
    consecutive_errors: int = 0        # failed attempts that errors ended, since the last refusal
    plugins: frozenset[str] = frozenset()   # the plugins that refused it last
    initial_attempt: float | None = None
    backoff_expiry: float | None = None     # cached until the next failure
    entry: int = -1                    # its live heap entry (older ones are stale)

    @property
    def key(self) -> Key:
        return pod_key(self.pod)


@dataclass
class _InFlight:
    qp: QueuedPod
    first_event: int                   # index into the queue's in-flight event log
    gone: bool = False                 # deleted (or bound elsewhere) meanwhile


@dataclass
class _Recorded:
    event: ClusterEvent
    old: Obj | None
    new: Obj | None


@dataclass(order=True)
class _Entry:
    sort: tuple[Any, ...]
    key: Key = field(compare=False)


class SchedulingQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 max_unschedulable: float = MAX_UNSCHEDULABLE,
                 pop_from_backoff: bool = False) -> None:
        self.clock = clock
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.max_unschedulable = max_unschedulable
        self.pop_from_backoff = pop_from_backoff
        self._cond = threading.Condition()
        self._seq = itertools.count()
        # Each heap holds entries for the keys of its dict; an entry whose key left the dict
        # (or was pushed again) is stale and skipped when it reaches the top.
        self._active: dict[Key, QueuedPod] = {}
        self._active_heap: list[_Entry] = []
        self._backoff: dict[Key, QueuedPod] = {}
        self._backoff_heap: list[_Entry] = []
        self._error_backoff: dict[Key, QueuedPod] = {}
        self._error_heap: list[_Entry] = []
        self._unschedulable: dict[Key, QueuedPod] = {}
        self._in_flight: dict[Key, _InFlight] = {}
        self._events: list[_Recorded] = []
        self._events_base = 0          # the index of _events[0] in the log since it started
        self._closed = False
        self._sweep_at = clock() + LEFTOVER_SWEEP
        self.cycles = 0

    # -- pods coming and going (the pod informer) -------------------------------------------
    def add(self, pod: Obj) -> None:
        """A pending pod came (or was seen for the first time)."""
        with self._cond:
            if self._known(pod_key(pod)):
                self._update_locked(pod)
                return
            self._to_active(QueuedPod(pod, self.clock()))

    def update(self, pod: Obj) -> None:
        """A pending pod changed: kept where it is, unless it waited as unschedulable and
        changed in a way that may let it in (not its status: the scheduler writes that)."""
        with self._cond:
            if self._known(pod_key(pod)):
                self._update_locked(pod)
            else:
                self._to_active(QueuedPod(pod, self.clock()))

    def delete(self, pod: Obj) -> None:
        """The pod is gone, or no longer the scheduler's (bound, terminating)."""
        with self._cond:
            key = pod_key(pod)
            for pods in (self._active, self._backoff, self._error_backoff,
                         self._unschedulable):
                pods.pop(key, None)
            flight = self._in_flight.get(key)
            if flight is not None:
                flight.gone = True      # not to be queued again when its attempt ends

    # -- the scheduling cycle ----------------------------------------------------------------
    def pop(self, timeout: float | None = None) -> QueuedPod | None:
        """The next pod to try, blocking; None once closed, or after ``timeout`` seconds
        with nothing to try. Call :meth:`done` or :meth:`add_unschedulable` after."""
        with self._cond:
            give_up = None if timeout is None else self.clock() + timeout
            while not self._closed:
                self._flush()
                qp = self._pop_active() or (self._pop_backoff_early()
                                            if self.pop_from_backoff else None)
                if qp is not None:
                    qp.attempts += 1
                    if qp.initial_attempt is None:
                        qp.initial_attempt = self.clock()
                    self.cycles += 1
                    self._in_flight[qp.key] = _InFlight(qp, self._events_base + len(self._events))
                    return qp
                wait = self._next_due()
                if give_up is not None:
                    left = give_up - self.clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
            return None

    def done(self, key: Key) -> None:
        """The attempt ended with the pod bound (or gone)."""
        with self._cond:
            self._land(key)

    def add_unschedulable(self, qp: QueuedPod, plugins: Iterable[str] = (),
                          error: bool = False) -> str:
        """The attempt failed: refused by ``plugins``, or ended by an error. The pod goes to
        the unschedulable pool, unless an event during the attempt may have let it in;
        returns the queue it went to."""
        with self._cond:
            gone = self._in_flight[qp.key].gone if qp.key in self._in_flight else False
            events = self._land(qp.key)
            if gone or self._where(qp.key) or self._closed:
                return ""
            if error:
                qp.consecutive_errors += 1
                qp.plugins = frozenset()
            else:
                qp.unschedulable_count += 1
                qp.consecutive_errors = 0
                qp.plugins = frozenset(plugins)
            qp.timestamp = self.clock()
            qp.backoff_expiry = None
            if error or not qp.plugins:
                return self._to_backoff(qp)   # something unusual: try again after back-off
            if any(worth_requeuing(qp.pod, qp.plugins, e.event, e.old, e.new) for e in events):
                return self._requeue(qp)
            self._unschedulable[qp.key] = qp
            return UNSCHEDULABLE

    # -- cluster events ----------------------------------------------------------------------
    def move(self, event: ClusterEvent, old: Obj | None = None, new: Obj | None = None
             ) -> int:
        """A cluster event: each unschedulable pod whose refusing plugins say the event may
        let it in moves to backoffQ or activeQ. Returns how many moved."""
        if not interesting(event):
            return 0
        with self._cond:
            moved = 0
            for key, qp in list(self._unschedulable.items()):
                if worth_requeuing(qp.pod, qp.plugins, event, old, new):
                    del self._unschedulable[key]
                    self._requeue(qp)
                    moved += 1
            if self._in_flight:
                self._events.append(_Recorded(event, old, new))
            return moved

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- reading (tests, logs) ---------------------------------------------------------------
    def where(self, pod: Obj | Key) -> str:
        """The queue the pod is in ("" if none; "InFlight" while it is being scheduled)."""
        key = pod if isinstance(pod, tuple) else pod_key(pod)
        with self._cond:
            if key in self._in_flight:
                return "InFlight"
            return self._where(key)

    def get(self, key: Key) -> QueuedPod | None:
        with self._cond:
            for pods in (self._active, self._backoff, self._error_backoff,
                         self._unschedulable):
                if key in pods:
                    return pods[key]
            flight = self._in_flight.get(key)
            return flight.qp if flight else None

    def summary(self) -> str:
        """As upstream's PendingPods: ``activeQ:1; backoffQ:0; unschedulablePods:3``."""
        with self._cond:
            return (f"activeQ:{len(self._active)}; "
                    f"backoffQ:{len(self._backoff) + len(self._error_backoff)}; "
                    f"unschedulablePods:{len(self._unschedulable)}")

    def backoff_seconds(self, qp: QueuedPod) -> float:
        """The back-off after the pod's failures so far: ``initial`` doubled per failure
        after the first, capped at ``maximum``; errors count instead while they go on."""
        count = qp.consecutive_errors or qp.unschedulable_count
        if count <= 0:
            return 0.0
        return min(self.initial_backoff * float(1 << min(count - 1, 62)), self.max_backoff)

    # -- helpers (under the lock) -------------------------------------------------------------
    def _where(self, key: Key) -> str:
        if key in self._active:
            return ACTIVE
        if key in self._backoff or key in self._error_backoff:
            return BACKOFF
        if key in self._unschedulable:
            return UNSCHEDULABLE
        return ""

    def _known(self, key: Key) -> bool:
        """In a queue, or being tried (and not deleted since: a pod made again under the
        name of one being tried is a new pod)."""
        flight = self._in_flight.get(key)
        return (flight is not None and not flight.gone) or bool(self._where(key))

    def _update_locked(self, pod: Obj) -> None:
        key = pod_key(pod)
        flight = self._in_flight.get(key)
        if flight is not None and not flight.gone:
            # Weighed when the attempt fails: the change may be what lets it in.
            if scheduling_properties(flight.qp.pod) != scheduling_properties(pod):
                self._events.append(_Recorded(ClusterEvent(UNSCHEDULED_POD, UPDATE),
                                              flight.qp.pod, pod))
            flight.qp.pod = pod
            return
        for pods in (self._active, self._backoff, self._error_backoff):
            if key in pods:
                pods[key].pod = pod
                return
        qp = self._unschedulable.get(key)
        if qp is None:
            return
        changed = scheduling_properties(qp.pod) != scheduling_properties(pod)
        qp.pod = pod
        if changed:
            del self._unschedulable[key]
            self._requeue(qp)

    def _land(self, key: Key) -> list[_Recorded]:
        """End the key's flight; the events recorded since it took off."""
        flight = self._in_flight.pop(key, None)
        if flight is None:
            return []
        events = self._events[flight.first_event - self._events_base:]
        if not self._in_flight:
            self._events_base += len(self._events)
            self._events = []
        return events

    def _requeue(self, qp: QueuedPod) -> str:
        if self._backing_off(qp):
            return self._to_backoff(qp)
        return self._to_active(qp)

    def _backing_off(self, qp: QueuedPod) -> bool:
        return self._expiry(qp) > self.clock()

    def _expiry(self, qp: QueuedPod) -> float:
        if qp.backoff_expiry is None:
            qp.backoff_expiry = qp.timestamp + self.backoff_seconds(qp)
        return qp.backoff_expiry

    def _push(self, heap: list[_Entry], pods: dict[Key, QueuedPod], qp: QueuedPod,
              sort: tuple[Any, ...]) -> None:
        qp.entry = next(self._seq)
        pods[qp.key] = qp
        heapq.heappush(heap, _Entry((*sort, qp.entry), qp.key))
        self._cond.notify()

    @staticmethod
    def _head(heap: list[_Entry], pods: dict[Key, QueuedPod]) -> QueuedPod | None:
        """The live head of ``heap``: entries of pods that left it (or were pushed again
        since) are stale and dropped."""
        while heap:
            qp = pods.get(heap[0].key)
            if qp is not None and qp.entry == heap[0].sort[-1]:
                return qp
            heapq.heappop(heap)
        return None

    def _take(self, heap: list[_Entry], pods: dict[Key, QueuedPod]) -> QueuedPod | None:
        qp = self._head(heap, pods)
        if qp is not None:
            heapq.heappop(heap)
            del pods[qp.key]
        return qp

    def _to_active(self, qp: QueuedPod) -> str:
        self._unschedulable.pop(qp.key, None)
        self._push(self._active_heap, self._active, qp, (-_priority(qp.pod), qp.timestamp))
        return ACTIVE

    def _to_backoff(self, qp: QueuedPod) -> str:
        if qp.consecutive_errors:
            self._push(self._error_heap, self._error_backoff, qp, (self._expiry(qp),))
        else:
            self._push(self._backoff_heap, self._backoff, qp, (self._expiry(qp),))
        return BACKOFF

    def _pop_active(self) -> QueuedPod | None:
        return self._take(self._active_heap, self._active)

    def _pop_backoff_early(self) -> QueuedPod | None:
        return self._take(self._backoff_heap, self._backoff)

    def _flush(self) -> None:
        """Back-offs that ended go to activeQ; pods unschedulable for too long leave the
        pool (upstream's flushBackoffQCompleted and flushUnschedulablePodsLeftover)."""
        now = self.clock()
        for heap, pods in ((self._backoff_heap, self._backoff),
                           (self._error_heap, self._error_backoff)):
            while (qp := self._head(heap, pods)) is not None and self._expiry(qp) <= now:
                self._to_active(self._take(heap, pods) or qp)
        if now < self._sweep_at:
            return
        self._sweep_at = now + LEFTOVER_SWEEP
        for qp in [qp for qp in self._unschedulable.values()
                   if now - qp.timestamp >= self.max_unschedulable]:
            del self._unschedulable[qp.key]
            self._requeue(qp)

    def _next_due(self) -> float | None:
        """Seconds until the next back-off ends or the next sweep of the unschedulable pool."""
        due = [self._expiry(qp) for heap, pods in (
            (self._backoff_heap, self._backoff), (self._error_heap, self._error_backoff))
            if (qp := self._head(heap, pods)) is not None]
        if self._unschedulable:
            due.append(self._sweep_at)
        if not due:
            return None
        return max(0.0, min(due) - self.clock())
