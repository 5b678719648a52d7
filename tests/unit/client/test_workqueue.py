"""WorkQueue.run_worker, the one loop of every worker thread, and the controllers' retry policy."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, cast

import pytest

from kompy.client import Conflict
from kompy.client.workqueue import WorkQueue
from kompy.cluster.controllers.base import Controller
from kompy.errors import ClusterError


def wait_for(condition: Callable[[], bool], what: Callable[[], str], timeout: float = 30.0
             ) -> None:
    """Wait until condition(); on time-out, fail with what() (evaluated then: it may show
    the state reached)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what()}")
        time.sleep(0.005)


def start_workers(q: WorkQueue, handler: Callable[[Hashable], object],
                  on_error: Callable[[Hashable, Exception], float | None],
                  count: int = 1) -> list[threading.Thread]:
    threads = [threading.Thread(target=q.run_worker, args=(handler, on_error), daemon=True)
               for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def stop_workers(q: WorkQueue, threads: list[threading.Thread]) -> None:
    q.shutdown()
    for thread in threads:
        thread.join(5)
    assert not any(t.is_alive() for t in threads), "a worker did not stop after shutdown()"


def test_a_failing_key_is_retried_after_the_delay_on_error_returns() -> None:
    q = WorkQueue()
    calls: list[float] = []
    errors: list[tuple[Hashable, str]] = []

    def handler(key: Hashable) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError(f"attempt {len(calls)}")

    def on_error(key: Hashable, error: Exception) -> float:
        errors.append((key, str(error)))
        return 0.05

    threads = start_workers(q, handler, on_error)
    q.add("k")
    wait_for(lambda: len(calls) == 3, lambda: f"three attempts (got {len(calls)})")
    stop_workers(q, threads)
    assert errors == [("k", "attempt 1"), ("k", "attempt 2")]
    assert calls[1] - calls[0] >= 0.04 and calls[2] - calls[1] >= 0.04
    assert len(calls) == 3  # the success is not retried


def test_none_from_on_error_drops_the_key_and_the_worker_survives() -> None:
    q = WorkQueue()
    handled: list[Hashable] = []

    def handler(key: Hashable) -> None:
        handled.append(key)
        if key == "bad":
            raise ValueError("bad key")

    threads = start_workers(q, handler, lambda _key, _error: None)
    q.add("bad")
    q.add("good")
    wait_for(lambda: handled == ["bad", "good"], lambda: f"both keys handled (got {handled})")
    q.add("bad")  # dropped, not forgotten: a later add() brings it back
    wait_for(lambda: handled == ["bad", "good", "bad"],
             lambda: f"the key again (got {handled})")
    stop_workers(q, threads)


def test_shutdown_stops_idle_workers_and_the_one_in_a_retry_wait() -> None:
    q = WorkQueue()

    def handler(key: Hashable) -> None:
        raise RuntimeError("always")

    tried = threading.Event()

    def on_error(key: Hashable, error: Exception) -> float:
        tried.set()
        return 3600.0

    threads = start_workers(q, handler, on_error, count=3)
    q.add("k")  # retried in an hour: the workers wait on the condition variable
    assert tried.wait(5), "the key was never handled"
    stop_workers(q, threads)


def test_a_key_added_while_processed_is_handled_again_but_never_concurrently() -> None:
    q = WorkQueue()
    active: set[Hashable] = set()
    overlaps: list[Hashable] = []
    count = {"a": 0}
    release = threading.Event()
    lock = threading.Lock()

    def handler(key: Hashable) -> None:
        with lock:
            if key in active:
                overlaps.append(key)
            active.add(key)
            count["a"] += 1
            first = count["a"] == 1
        if first:
            release.wait(5)
        with lock:
            active.discard(key)

    threads = start_workers(q, handler, lambda _key, _error: None, count=4)
    q.add("a")
    wait_for(lambda: count["a"] == 1, lambda: "the first run of the key")
    q.add("a")  # while a worker holds it: queued for after done(), not given to another worker
    q.add("a")
    # Three idle workers had 50 ms to take the key wrongly (this wait cannot be a condition:
    # it checks that something does not happen).
    time.sleep(0.05)
    assert count["a"] == 1, "the key was handed to a second worker while in process"
    release.set()
    wait_for(lambda: count["a"] == 2, lambda: f"the key handled once more (runs: {count['a']})")
    stop_workers(q, threads)
    assert overlaps == [] and count["a"] == 2


class FlakyController(Controller):
    name = "flaky"

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__(cast(Any, None), cast(Any, None), cast(Any, None), workers=1)
        self.failures = failures
        self.synced: list[tuple[Hashable, float]] = []

    def sync(self, key: Hashable) -> None:
        self.synced.append((key, time.monotonic()))
        if self.failures:
            raise self.failures.pop(0)


def test_controller_retries_a_conflict_at_once_and_other_errors_with_backoff(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kompy.cluster.controllers.base")
    controller = FlakyController([Conflict(409, "Conflict", "stale resourceVersion"),
                                  ClusterError("down")])
    controller.start()
    controller.queue.add("ns/x")
    wait_for(lambda: len(controller.synced) == 3, lambda: "a sync after a conflict and an error",
             timeout=30)
    controller.join(30)
    assert not any(t.is_alive() for t in controller._threads)
    (_, t0), (_, t1), (_, t2) = controller.synced
    # A conflict: read again and retry at once (50 ms), not after the 1 s back-off (a bound
    # below that, and not tighter: a loaded machine may be slow to run the worker).
    assert t1 - t0 < 0.9
    assert t2 - t1 >= 0.9  # the first failure backs off 1 s
    assert controller._failures == {}  # the success forgets the failures
    assert "flaky: ns/x failed (down); retrying in 1.0 s" in caplog.text


def test_controller_backoff_doubles_up_to_a_minute_and_survives_any_error(
        caplog: pytest.LogCaptureFixture) -> None:
    controller = FlakyController([])
    delays = [controller._on_error("k", ClusterError("x")) for _ in range(2000)]
    assert delays[:8] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert delays[-1] == 60.0  # no OverflowError after 1,000 failures
    assert controller._on_error("k", Conflict(409, "Conflict", "stale")) == 0.05
    caplog.clear()
    assert controller._on_error("other", KeyError("boom")) == 1.0
    assert "flaky: sync of other failed" in caplog.text and "KeyError" in caplog.text


def test_a_key_added_after_a_delay_again_and_again_is_held_once_at_the_earliest() -> None:
    """As client-go's delaying queue. Before: an entry per call, each kept until due (the
    kubelet's token renewal, ~48 minutes ahead on every pod sync: the daemon's memory grew
    for the first hour of the soak)."""
    q = WorkQueue()
    for i in range(1000):
        q.add_after("pod", 3000.0 + i)
    assert q.delayed == 1
    q.add_after("pod", 0.05)                # sooner: it replaces the later time
    for i in range(1000):                   # replaced entries do not pile up either
        q.add_after(f"other{i % 10}", 3000.0)
        q.add_after(f"other{i % 10}", 1000.0 - i / 10)
    assert q.delayed <= 2 * 11 + 16
    start = time.monotonic()
    assert q.get() == "pod"
    assert time.monotonic() - start < 5.0
    q.done("pod")


def test_a_forgotten_key_is_not_added_when_its_delay_ends() -> None:
    q = WorkQueue()
    q.add_after("gone", 0.05)
    q.add_after("kept", 0.1)
    q.forget("gone")
    assert q.get() == "kept"
    q.add("next")                           # "gone" never comes back
    assert q.get() == "next"
