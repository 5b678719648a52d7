"""Shared informers: one list+watch per resource, a local cache, and change handlers.

As client-go's reflector: list, then watch from the list's resourceVersion with bookmarks
asked for. Each watch lasts a random 5 to 10 minutes (the server ends it), then the next one
resumes from the last version seen, a bookmark's included: bookmarks keep that version
recent while nothing changes, so it stays inside the server's history and no list is needed.
Only 410 Gone (the version was compacted away) means list again; any other failure (the
server restarting, a dropped connection, an error answer) is retried from the same version
after an exponential back-off (0.8 s doubling to 30 s, with jitter), as the reflector's
backoff manager does. Handlers are called with the object (and whether it was deleted) and
typically enqueue a key, so controllers stay level-triggered. A resync re-delivers every
cached object every ``RESYNC_SECONDS`` so a missed change heals itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from kompy.client import KubeClient
from kompy.client.errors import Gone
from kompy.client.objects import Obj
from kompy.errors import KompyError

log = logging.getLogger(__name__)

Handler = Callable[[Obj, bool], None]
RESYNC_SECONDS = 600.0
# client-go's minWatchTimeout: each watch asks the server to end it after a random time in
# [MIN_WATCH_TIMEOUT, 2 x MIN_WATCH_TIMEOUT), so a fleet of informers does not reconnect at once.
MIN_WATCH_TIMEOUT = 300
# A watch that ends this soon without an event is treated as a failure (back off), as the
# reflector's "very short watch" check: a server that closes at once must not be spun on.
SHORT_WATCH_SECONDS = 1.0


class Backoff:
    """client-go's reflector back-off: ``initial`` doubling to ``cap`` seconds, plus up to
    100 % jitter; it starts over once ``reset_after`` seconds pass without a failure."""

    def __init__(self, initial: float = 0.8, cap: float = 30.0, reset_after: float = 120.0,
                 clock: Callable[[], float] = time.monotonic,
                 jitter: Callable[[], float] = random.random) -> None:
        self.initial, self.cap, self.reset_after = initial, cap, reset_after
        self._clock, self._jitter = clock, jitter
        self._step = 0.0
        self._last: float | None = None

    def delay(self) -> float:
        """The seconds to wait before the next try (one failure more)."""
        now = self._clock()
        if self._last is None or now - self._last > self.reset_after:
            self._step = self.initial
        else:
            self._step = min(self._step * 2, self.cap)
        self._last = now
        return self._step * (1.0 + self._jitter())


def key_of(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Informer:
    def __init__(self, client: KubeClient, resource: str, stop: threading.Event) -> None:
        self.client = client
        self.resource = resource
        self.stop = stop
        self.handlers: list[Handler] = []
        self._cache: dict[tuple[str, str], Obj] = {}
        self._lock = threading.Lock()
        self.synced = threading.Event()
        # The version the next watch resumes from, and counts the tests and logs read.
        self.resource_version: str | None = None
        self.events = 0
        self.relists = 0
        self._backoff = Backoff()
        self._thread = threading.Thread(target=self._run, name=f"informer-{resource}",
                                        daemon=True)

    # -- reading ----------------------------------------------------------------------------
    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._cache.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            return [o for (ns, _), o in self._cache.items() if namespace is None or ns == namespace]

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    # -- local updates (a controller's own writes, before the watch echoes them) ------------
    def upsert_local(self, obj: Obj) -> None:
        with self._lock:
            key = key_of(obj)
            old = self._cache.get(key)
            if old is None:
                # Missing although the watch has passed this version: the watch delivered
                # its deletion already (a controller's create answered, the object was
                # deleted and the watch said so, and only then was the answer cached).
                # Caching it then brought a deleted object back for good: the Ingress
                # controller served with a deleted default IngressClass (test_proxy's
                # test_an_ingress_made_before_the_default_class_is_served_once_it_exists).
                if _rv(obj) <= self._watched():
                    return
                self._cache[key] = obj
            elif _rv(obj) >= _rv(old):
                self._cache[key] = obj

    def _watched(self) -> int:
        """The version the cache is complete up to (0 before the first list)."""
        try:
            return int(self.resource_version or 0)
        except ValueError:
            return 0

    def remove_local(self, obj: Obj) -> None:
        with self._lock:
            self._cache.pop(key_of(obj), None)

    # -- running ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        rv: str | None = None       # None: list (first, and after 410 Gone)
        last_resync = time.monotonic()
        while not self.stop.is_set():
            try:
                if rv is None:
                    rv = self._list()
                    last_resync = time.monotonic()
                self.resource_version = rv
                started, events = time.monotonic(), self.events
                self._watch(rv)
                rv = self.resource_version
                if self.events == events and time.monotonic() - started < SHORT_WATCH_SECONDS:
                    raise KompyError(f"the watch of {self.resource} ended at once")
                if time.monotonic() - last_resync > RESYNC_SECONDS:
                    last_resync = time.monotonic()
                    for obj in self.list():
                        self._notify(obj, False)
            except Gone as error:
                # The version is older than the server's history: only a list catches up.
                log.info("watch of %s expired (%s); listing again", self.resource, error)
                self.relists += 1
                rv = None
            except KompyError as error:
                rv = self.resource_version if rv is not None else None
                self._back_off(f"watch of {self.resource} failed ({error})", rv)
            except Exception:  # noqa: BLE001 - an informer must survive anything
                log.exception("informer %s failed", self.resource)
                rv = self.resource_version if rv is not None else None
                self._back_off(f"informer {self.resource} failed", rv)

    def _watch(self, rv: str | None) -> None:
        """One watch from ``rv`` until the server ends it; ``resource_version`` follows every
        event and bookmark, so the next watch resumes where this one stopped."""
        timeout = random.randrange(MIN_WATCH_TIMEOUT, 2 * MIN_WATCH_TIMEOUT)
        for kind, obj in self.client.watch(self.resource, resource_version=rv,
                                           timeout_seconds=timeout, bookmarks=True):
            if self.stop.is_set():
                return
            self.events += 1
            version = str((obj.get("metadata") or {}).get("resourceVersion")
                          or self.resource_version or "") or None
            if kind != "BOOKMARK":
                self._apply(kind, obj)
            # Only once the event is in the cache: upsert_local takes an object missing from
            # the cache at or below this version for one the watch saw deleted, and a
            # controller caching its own create between the two would lose it (and, reading
            # the cache, make a second pod).
            self.resource_version = version

    def _back_off(self, what: str, rv: str | None) -> None:
        if self.stop.is_set():
            return
        delay = self._backoff.delay()
        log.info("%s; %s in %.1f s", what,
                 f"watching again from version {rv}" if rv else "listing again", delay)
        self.stop.wait(delay)

    def _list(self) -> str | None:
        data = self.client.list(self.resource)
        items = data.get("items") or []
        fresh = {key_of(o): o for o in items}
        listed = (data.get("metadata") or {}).get("resourceVersion")
        with self._lock:
            gone = [o for k, o in self._cache.items() if k not in fresh]
            self._cache = fresh
            if listed:  # the cache and the version it is complete up to, together
                self.resource_version = str(listed)
        for obj in gone:
            self._notify(obj, True)
        for obj in items:
            self._notify(obj, False)
        self.synced.set()
        rv = (data.get("metadata") or {}).get("resourceVersion")
        return str(rv) if rv else None

    def _apply(self, kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            with self._lock:
                self._cache.pop(key_of(obj), None)
            self._notify(obj, True)
        elif kind in ("ADDED", "MODIFIED"):
            with self._lock:
                key = key_of(obj)
                old = self._cache.get(key)
                # A controller's own write may already be cached (upsert_local) while the
                # watch still delivers older versions: never go back in time.
                if old is None or _rv(obj) >= _rv(old) or _uid(old) != _uid(obj):
                    self._cache[key] = obj
            self._notify(obj, False)

    def _notify(self, obj: Obj, deleted: bool) -> None:
        for handler in self.handlers:
            try:
                handler(obj, deleted)
            except Exception:  # noqa: BLE001 - one bad handler must not stop the others
                log.exception("handler for %s failed", self.resource)


class Informers:
    """One informer per resource, shared by every controller of the runtime."""

    def __init__(self, client: KubeClient, stop: threading.Event) -> None:
        self.client = client
        self.stop = stop
        self._by_resource: dict[str, Informer] = {}

    def __getitem__(self, resource: str) -> Informer:
        if resource not in self._by_resource:
            self._by_resource[resource] = Informer(self.client, resource, self.stop)
        return self._by_resource[resource]

    def start(self) -> None:
        for informer in self._by_resource.values():
            informer.start()

    def wait_synced(self, timeout: float = 30.0) -> bool:
        return all(i.synced.wait(timeout) for i in self._by_resource.values())

    def join(self, timeout: float | None = None) -> None:
        for informer in self._by_resource.values():
            informer.join(timeout)
