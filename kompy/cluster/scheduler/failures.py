"""FailedScheduling events, aggregated as kube-scheduler's event recorder aggregates them.

kube-scheduler records a FailedScheduling event on every failed attempt, through the
events.k8s.io recorder (client-go tools/events), which turns repeats into a series: the first
occurrence is written at once, the second too (the series starts, count 2), and later ones
are only counted, the series being written again every 30 minutes while it goes on and a
last time once nothing was added to it for 6 minutes. So ``kubectl get events`` shows one
event per pod and message whose count grows, and a pod retried a hundred times costs two
writes, not a hundred. Here the count is written again also when the series ends (the pod
was bound or deleted, or the message changed), so that no occurrence goes unreported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kompy.client.events import EventRecorder
from kompy.client.objects import Obj

REASON = "FailedScheduling"
REFRESH = 30 * 60.0        # a series still going is written again this often
FINISH = 6 * 60.0          # a series nothing was added to for this long ends
TICK = 10.0


@dataclass
class _Series:
    pod: Obj
    message: str
    written: float          # when it was last written
    seen: float             # when it last happened
    posted: int = 1         # occurrences written
    pending: int = 0        # occurrences counted, not yet written


class FailureEvents:
    """Thread-safe: the scheduler's thread records failures, the pod informer's thread
    ends the series of pods bound or deleted."""

    def __init__(self, recorder: EventRecorder, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.recorder = recorder
        self.clock = clock
        self._series: dict[str, _Series] = {}
        self._lock = threading.Lock()
        self._next_tick = clock() + TICK

    def failed(self, pod: Obj, message: str) -> None:
        """One failed attempt of ``pod`` with ``message``."""
        uid = _uid(pod)
        now = self.clock()
        with self._lock:
            series = self._series.get(uid)
            if series is not None and series.message == message:
                series.pod, series.seen = pod, now
                if series.posted < 2 or now - series.written >= REFRESH:
                    self._write(series, series.pending + 1)
                else:
                    series.pending += 1
                return
            if series is not None:
                self._flush(series)
            self.recorder.warning(pod, REASON, message)
            self._series[uid] = _Series(pod, message, now, now)

    def finished(self, pod: Obj) -> None:
        """The pod was bound or is gone: its series ends."""
        with self._lock:
            series = self._series.pop(_uid(pod), None)
            if series is not None:
                self._flush(series)

    def tick(self) -> None:
        """End the series that nothing was added to for ``FINISH`` seconds (looked at
        every ``TICK`` seconds at most: the scheduler calls this after each cycle)."""
        now = self.clock()
        if now < self._next_tick:
            return
        self._next_tick = now + TICK
        with self._lock:
            for uid, series in list(self._series.items()):
                if now - series.seen >= FINISH:
                    del self._series[uid]
                    self._flush(series)

    def __len__(self) -> int:
        return len(self._series)

    def _flush(self, series: _Series) -> None:
        if series.pending:
            self._write(series, series.pending)

    def _write(self, series: _Series, times: int) -> None:
        self.recorder.warning(series.pod, REASON, series.message, times)
        series.posted += times
        series.pending = 0
        series.written = self.clock()


def _uid(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
