"""Shared informers: one list+watch per resource, a local cache, and change handlers.

As client-go's reflector: list, then watch from the list's resourceVersion; the client
reconnects dropped watches itself, and a too-old version (410 Gone) means list again. Handlers
are called with the object (and whether it was deleted) and typically enqueue a key, so
controllers stay level-triggered. A resync re-delivers every cached object every
``RESYNC_SECONDS`` so a missed change heals itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kompy.client import KubeClient
from kompy.client.objects import Obj
from kompy.errors import KompyError

log = logging.getLogger(__name__)

Handler = Callable[[Obj, bool], None]
RESYNC_SECONDS = 600.0
WATCH_TIMEOUT = 300


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
            if old is None or _rv(obj) >= _rv(old):
                self._cache[key] = obj

    def remove_local(self, obj: Obj) -> None:
        with self._lock:
            self._cache.pop(key_of(obj), None)

    # -- running ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        last_resync = 0.0
        while not self.stop.is_set():
            try:
                rv = self._list()
                last_resync = _monotonic()
                while not self.stop.is_set():
                    for kind, obj in self.client.watch(self.resource, resource_version=rv,
                                                       timeout_seconds=WATCH_TIMEOUT):
                        if self.stop.is_set():
                            return
                        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                        self._apply(kind, obj)
                    if _monotonic() - last_resync > RESYNC_SECONDS:
                        last_resync = _monotonic()
                        for obj in self.list():
                            self._notify(obj, False)
            except KompyError as error:
                if self.stop.is_set():
                    return
                log.info("watch of %s ended (%s); listing again", self.resource, error)
                self.stop.wait(1.0)
            except Exception:  # noqa: BLE001 - an informer must survive anything
                log.exception("informer %s failed; listing again", self.resource)
                self.stop.wait(2.0)

    def _list(self) -> str | None:
        data = self.client.list(self.resource)
        items = data.get("items") or []
        fresh = {key_of(o): o for o in items}
        with self._lock:
            gone = [o for k, o in self._cache.items() if k not in fresh]
            self._cache = fresh
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


def _monotonic() -> float:
    import time

    return time.monotonic()


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
