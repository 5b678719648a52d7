"""The informer behaves as client-go's reflector: it asks for bookmarks and resumes each watch
from the last version seen (a bookmark's included), lists again only on 410 Gone, and backs
off exponentially on any other failure (issue #12: without bookmarks its watches fell out of
the server's history and it listed everything again every ~5 minutes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient, informer
from kompy.client.errors import Gone
from kompy.client.informer import Backoff, Informer
from kompy.client.loopback import attach
from kompy.cluster.apiserver import handlers
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store
from kompy.errors import ClusterError

Event = tuple[str, dict[str, Any]]


def cm(name: str, rv: int) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"namespace": "default", "name": name,
                                              "resourceVersion": str(rv), "uid": name}}


def bookmark(rv: int) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"resourceVersion": str(rv)}}


class ScriptedClient:
    """Lists answer with the next of ``lists`` (items, version); each watch plays the next
    script: a list of events, or an exception to raise. Records every call."""

    def __init__(self, lists: list[tuple[list[dict[str, Any]], int]],
                 watches: list[list[Event] | Exception], stop: threading.Event) -> None:
        self.lists = lists
        self.watches = watches
        self.stop = stop
        self.list_calls = 0
        self.watch_calls: list[dict[str, Any]] = []

    def list(self, resource: str) -> dict[str, Any]:
        items, rv = self.lists[min(self.list_calls, len(self.lists) - 1)]
        self.list_calls += 1
        return {"items": items, "metadata": {"resourceVersion": str(rv)}}

    def watch(self, resource: str, **kw: Any) -> Iterator[Event]:
        self.watch_calls.append(kw)
        if len(self.watch_calls) > len(self.watches):
            self.stop.set()      # the script is over: end the informer
            return
        step = self.watches[len(self.watch_calls) - 1]
        if isinstance(step, Exception):
            raise step
        yield from step


class RecordingBackoff(Backoff):
    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def delay(self) -> float:
        self.delays.append(super().delay())
        return 0.001


def run(client: ScriptedClient, stop: threading.Event) -> Informer:
    inf = Informer(client, "configmaps", stop)  # type: ignore[arg-type]
    backoff = RecordingBackoff()
    inf._backoff = backoff
    inf.start()
    inf.join(10)
    assert not inf._thread.is_alive(), "the informer did not end with its script"
    return inf


def test_each_watch_asks_for_bookmarks_and_resumes_from_the_last_one_without_listing() -> None:
    stop = threading.Event()
    client = ScriptedClient(
        [([cm("a", 5)], 10)],
        [[("ADDED", cm("b", 11)), ("BOOKMARK", bookmark(50))],   # the server ends it
         [("BOOKMARK", bookmark(80))],
         [("MODIFIED", cm("b", 90))]],
        stop)
    inf = run(client, stop)
    assert client.list_calls == 1
    assert [c["resource_version"] for c in client.watch_calls] == ["10", "50", "80", "90"]
    assert all(c["bookmarks"] for c in client.watch_calls)
    # client-go's minWatchTimeout: a random 5 to 10 minutes per watch.
    assert all(300 <= c["timeout_seconds"] < 600 for c in client.watch_calls)
    assert inf.get("default", "b") == cm("b", 90)
    assert inf.get("default", "") is None, "a bookmark is not an object"


def test_a_local_write_does_not_bring_back_an_object_the_watch_saw_deleted() -> None:
    """A controller creates an object; before it caches the answer (upsert_local), the
    object is deleted and the watch says so. Caching it then made it live in the cache for
    good: the Ingress controller kept serving with a default IngressClass deleted a moment
    after it made it (test_proxy's flaky 503, seen at load 5)."""
    stop = threading.Event()
    client = ScriptedClient([([], 10)], [[("ADDED", cm("made", 11)),
                                           ("DELETED", cm("made", 12))]], stop)
    inf = run(client, stop)
    inf.upsert_local(cm("made", 11))          # the create's answer, cached late
    assert inf.get("default", "made") is None
    inf.upsert_local(cm("newer", 13))         # written after all the watch delivered: kept
    assert inf.get("default", "newer") == cm("newer", 13)
    inf.upsert_local(cm("newer", 14))
    assert inf.get("default", "newer") == cm("newer", 14)


def test_410_gone_and_only_410_lists_again() -> None:
    stop = threading.Event()
    client = ScriptedClient(
        [([cm("a", 5)], 10), ([cm("c", 120)], 130)],
        [[("BOOKMARK", bookmark(40))],
         Gone(410, "Expired", "too old resource version: 40 (100)"),
         [("ADDED", cm("d", 131))]],
        stop)
    inf = run(client, stop)
    assert client.list_calls == 2
    assert [c["resource_version"] for c in client.watch_calls] == ["10", "40", "130", "131"]
    assert inf.relists == 1
    # The list replaced the cache: "a" is gone (its handlers were told), "c" and "d" are in.
    assert sorted(o["metadata"]["name"] for o in inf.list()) == ["c", "d"]


def test_other_failures_back_off_exponentially_and_resume_from_the_same_version() -> None:
    stop = threading.Event()
    client = ScriptedClient(
        [([], 10)],
        [[("BOOKMARK", bookmark(20))],
         ClusterError("connection refused"), ClusterError("connection refused"),
         ClusterError("the server is shutting down"),
         [("ADDED", cm("a", 21))]],
        stop)
    inf = run(client, stop)
    assert client.list_calls == 1, "a failure other than 410 must not list again"
    assert [c["resource_version"] for c in client.watch_calls] == ["10", "20", "20", "20",
                                                                     "20", "21"]
    delays = inf._backoff.delays  # type: ignore[attr-defined]
    assert len(delays) == 3
    assert 0.8 <= delays[0] <= 1.6 and 1.6 <= delays[1] <= 3.2 and 3.2 <= delays[2] <= 6.4


def test_a_failed_list_is_retried_after_a_back_off() -> None:
    stop = threading.Event()

    class FailingList(ScriptedClient):
        def list(self, resource: str) -> dict[str, Any]:
            if self.list_calls == 0:
                self.list_calls += 1
                raise ClusterError("connection refused")
            return super().list(resource)

    client = FailingList([([cm("a", 5)], 10)], [[("ADDED", cm("b", 11))]], stop)
    inf = run(client, stop)
    assert client.list_calls == 2
    assert inf.synced.is_set()
    assert len(inf._backoff.delays) == 1  # type: ignore[attr-defined]


def test_a_watch_the_server_ends_at_once_is_backed_off_not_spun_on() -> None:
    stop = threading.Event()
    client = ScriptedClient([([], 10)], [[], [], []], stop)
    inf = run(client, stop)
    assert len(inf._backoff.delays) == 3  # type: ignore[attr-defined]
    assert client.list_calls == 1


def test_backoff_doubles_to_its_cap_with_jitter_and_starts_over_after_quiet() -> None:
    now = [0.0]
    jitter = [0.0]
    backoff = Backoff(clock=lambda: now[0], jitter=lambda: jitter[0])
    steps = []
    for _ in range(8):
        steps.append(backoff.delay())
        now[0] += 1
    assert steps == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    jitter[0] = 0.5
    assert backoff.delay() == 45.0          # up to 100 % on top, as client-go's jitter 1.0
    now[0] += 121                          # two quiet minutes: start over
    jitter[0] = 0.0
    assert backoff.delay() == 0.8


# -- against the real API server and store ----------------------------------------------------

def wait_for(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def test_bookmarks_keep_an_idle_informer_inside_the_history_of_a_compacted_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time shrunk: bookmarks every 0.1 s, watches of 1 s. Other resources change, the store
    compacts past the version the informer listed at, and its watches go on without a list:
    before, the next watch asked for that version, got 410 Gone and listed everything."""
    monkeypatch.setattr(handlers, "BOOKMARK_SECONDS", 0.1)
    monkeypatch.setattr(informer, "MIN_WATCH_TIMEOUT", 1)
    store = Store(tmp_path / "store.db")
    server = ApiServer(store, "token").start()
    stop = threading.Event()
    try:
        client = attach(KubeClient.for_server(server.url, "token"), server.router)
        client.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "watched", "namespace": "default"}})
        lists = []
        real_list = client.list

        def counted_list(*args: Any, **kw: Any) -> dict[str, Any]:
            lists.append(args)
            return real_list(*args, **kw)

        client.list = counted_list  # type: ignore[method-assign]
        inf = Informer(client, "configmaps", stop)
        inf.start()
        assert inf.synced.wait(30)
        for i in range(20):      # writes the informer's resource never sees
            client.create({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": f"s{i}", "namespace": "default"}})
        newest = store.resource_version()
        wait_for("a bookmark at the newest version",
                 lambda: int(inf.resource_version or 0) >= newest)
        store.compact(newest)
        watches = inf.events
        wait_for("two more watch rounds", lambda: inf.events >= watches + 20, timeout=60)
        assert len(lists) == 1, "the informer listed again"
        assert inf.relists == 0
        assert inf.get("default", "watched") is not None
    finally:
        stop.set()
        server.stop()


def test_a_local_write_while_the_watch_caches_the_same_object_is_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A controller caches its own create (upsert_local) while the watch is delivering that
    very object: the informer's version must not pass the object before it is cached, or
    the controller's write is refused as an object the watch saw deleted, and its next read
    of the cache misses what it just made."""
    stop = threading.Event()
    client = ScriptedClient([([], 10)], [[("ADDED", cm("made", 11))]], stop)
    inf = Informer(client, "configmaps", stop)  # type: ignore[arg-type]
    inf._backoff = RecordingBackoff()
    seen: list[Any] = []
    apply = inf._apply

    def controller_writes_first(kind: str, obj: dict[str, Any]) -> None:
        inf.upsert_local(cm("made", 11))          # the create's answer, cached meanwhile
        seen.append(inf.get("default", "made"))   # ... and read back at once
        apply(kind, obj)

    monkeypatch.setattr(inf, "_apply", controller_writes_first)
    inf.start()
    inf.join(10)
    assert seen == [cm("made", 11)]
