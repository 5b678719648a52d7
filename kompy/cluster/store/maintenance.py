"""The store's housekeeping, on a timer: what etcd's compaction and defragmentation are to
a Kubernetes cluster.

* Compaction by time, as kube-apiserver compacts etcd (``--etcd-compaction-interval``, 5
  minutes): each pass notes the store's version, and compacts to the version noted at least
  ``compaction_seconds`` ago. History thus reaches 5 to 6 minutes back (more while the count
  and byte bounds of sqlite.py allow); a watch from an older version gets 410 Gone and its
  informer lists again.
* The WAL is copied into the database and truncated (``wal_checkpoint(TRUNCATE)``): SQLite's
  automatic checkpoints reuse the WAL file from its start but never shrink it.
* Chores of the layers above run first on each pass (the API server's expiry of Events
  older than an hour, kube-apiserver's ``--event-ttl``), so what they delete is compacted
  and given back in the same rhythm.
* Free pages are given back to the file system when they are most of the file (incremental
  vacuum), so the file shrinks after big objects are deleted and compacted.

One pass takes milliseconds on a small store; the thread sleeps in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from kompy.cluster.store.sqlite import Store

log = logging.getLogger(__name__)

COMPACTION_SECONDS = 300.0
INTERVAL_SECONDS = 60.0


class Maintenance:
    def __init__(self, store: Store, *, compaction_seconds: float = COMPACTION_SECONDS,
                 interval: float = INTERVAL_SECONDS,
                 chores: Sequence[Callable[[], object]] = ()) -> None:
        self.store = store
        self.chores = list(chores)
        self.compaction_seconds = compaction_seconds
        self.interval = interval
        self._marks: deque[tuple[float, int]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-maintenance", daemon=True)

    def start(self) -> Maintenance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def run_once(self, now: float | None = None) -> None:
        """Chores, then compact, checkpoint, vacuum if sparse."""
        now = time.monotonic() if now is None else now
        for chore in self.chores:
            try:
                chore()
            except Exception:  # noqa: BLE001 - one failed chore must not stop compaction
                log.exception("store maintenance: %s failed", getattr(chore, "__name__", chore))
        self._marks.append((now, self.store.resource_version()))
        floor = 0
        while self._marks and self._marks[0][0] <= now - self.compaction_seconds:
            floor = self._marks.popleft()[1]
        if floor:
            self.store.compact(floor)
        self.store.checkpoint()
        if self.store.vacuum_if_sparse():
            log.info("store: gave free pages back to the file system (%s)", self.store.sizes())

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - housekeeping must never stop the daemon
                log.exception("store maintenance failed; trying again later")
            if self._stop.wait(self.interval):
                return
