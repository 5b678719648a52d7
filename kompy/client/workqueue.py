"""A de-duplicating work queue with delayed adds, as client-go's workqueue.

A key added while it waits is queued once; a key added while a worker processes it is queued
again after ``done`` (so no change is lost and no key is processed by two workers at once).
A key added after a delay while it already waits is held once, at the earlier of its two
times, as client-go's delaying queue does (the kubelet adds each pod after the ~48 minutes to
its token's renewal on every sync: one entry per sync, kept for 48 minutes, grew the daemon's
memory for the first hour of issue #12's soak). Workers block on a condition variable: an
idle queue costs no CPU. :meth:`WorkQueue.run_worker`
is the one loop every worker thread runs (controllers, scheduler, kubelet); each passes its
own error policy.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable

# What a worker does when its handler raised: the seconds until the key is tried again, or
# None to drop it (a later add() brings it back).
OnError = Callable[[Hashable, Exception], float | None]


class WorkQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[Hashable] = []
        self._queued: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        # A heap of (due, seq, key); an entry whose due time is not _waiting's for its key
        # was replaced by an earlier one or forgotten, and is skipped when popped.
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._waiting: dict[Hashable, float] = {}
        self._seq = itertools.count()
        self._closed = False

    def add(self, key: Hashable) -> None:
        with self._cond:
            if key in self._processing:
                self._dirty.add(key)
                return
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        due = time.monotonic() + delay
        with self._cond:
            current = self._waiting.get(key)
            if current is not None and current <= due:
                return                       # due sooner already
            self._waiting[key] = due
            heapq.heappush(self._delayed, (due, next(self._seq), key))
            self._drop_stale()
            self._cond.notify()

    def forget(self, key: Hashable) -> None:
        """Cancel the key's delayed add (its object is gone: nothing is left to do)."""
        with self._cond:
            if self._waiting.pop(key, None) is not None:
                self._drop_stale()

    def waits(self, key: Hashable) -> bool:
        """Whether the key waits for a delayed add."""
        with self._cond:
            return key in self._waiting

    @property
    def delayed(self) -> int:
        """Entries held for delayed adds, stale ones included (tests of bounds watch it)."""
        with self._cond:
            return len(self._delayed)

    def get(self) -> Hashable | None:
        """The next key, blocking; None once the queue is shut down."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                self._promote()
                if self._queue:
                    key = self._queue.pop(0)
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                wait = self._delayed[0][0] - time.monotonic() if self._delayed else None
                self._cond.wait(wait)

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._queue.append(key)
                    self._cond.notify()

    def run_worker(self, handler: Callable[[Hashable], object], on_error: OnError) -> None:
        """Take keys and handle them until the queue shuts down (the one way a worker stops).

        A handler that raises does not end the worker: ``on_error`` runs (inside the except
        clause, so ``log.exception`` sees the error) and says when to retry. ``done`` always
        follows, so a key added meanwhile is taken again, never by two workers at once.
        """
        while True:
            key = self.get()
            if key is None:
                return
            try:
                handler(key)
            except Exception as error:  # noqa: BLE001 - a worker must survive any one key
                delay = on_error(key, error)
                if delay is not None:
                    self.add_after(key, delay)
            finally:
                self.done(key)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _drop_stale(self) -> None:
        """Rebuild the heap once stale entries are most of it: it holds at most about twice
        the keys waiting."""
        if len(self._delayed) > 2 * len(self._waiting) + 16:
            self._delayed = [e for e in self._delayed if self._waiting.get(e[2]) == e[0]]
            heapq.heapify(self._delayed)

    def _promote(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            due, _, key = heapq.heappop(self._delayed)
            if self._waiting.get(key) != due:
                continue                     # replaced by an earlier time, or forgotten
            del self._waiting[key]
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
