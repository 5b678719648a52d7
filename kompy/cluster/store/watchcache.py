"""The store's watch cache: the last changes of each resource, in memory, as JSON text.

kube-apiserver's watch cache does the same in front of etcd: a watch that resumes from a
recent version is answered from memory, and a write wakes only the watchers of its own
resource. Without it every write woke every watch, each to query and parse the event log: a
few thousand queries to start 30 pods. The event log in SQLite stays the truth (resuming
from a version older than the cache, or after a restart, reads it).

Bounded twice: ``RECENT`` changes per resource, and ``CACHE_BYTES`` in all, so a burst of
big objects cannot grow the daemon's memory without end; the changes that fall out are
answered from the event log instead.

What the byte bound counts is what the cache holds: each change keeps the object (and, for
MODIFIED, the object before) only as the JSON text written to the event log, and its size
is those strings' memory (``sys.getsizeof``) plus the change's own. Parsed objects are made
on demand and not kept: a parsed object takes several times its JSON's memory (a dict per
object, a string object per key and value; the two parsed objects of a change to a
ConfigMap of 500 small keys held 2.2-2.5 times the JSON counted), so a bound on JSON bytes
over parsed objects did not bound memory. A watch sends the stored text as it is (no parse,
no re-encoding); only a filtered watch (label or field selector) or a Table watch parses an
event.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from dataclasses import dataclass

from kompy.client.objects import Obj

RECENT = 1000
CACHE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Change:
    """One entry of the event log: what a watch delivers, as the log's JSON text."""

    rv: int
    type: str              # ADDED, MODIFIED, DELETED
    body: str              # the object's JSON
    prev_body: str | None  # for MODIFIED: the object before the change
    namespace: str = ""

    @property
    def obj(self) -> Obj:
        """The object, parsed anew at each call (a copy the caller may change)."""
        parsed: Obj = json.loads(self.body)
        return parsed

    @property
    def prev(self) -> Obj | None:
        return json.loads(self.prev_body) if self.prev_body else None

    def memory(self) -> int:
        """Bytes this change holds in memory: its strings and itself."""
        return (sys.getsizeof(self.body) + (sys.getsizeof(self.prev_body)
                                            if self.prev_body else 0) + _CHANGE_OVERHEAD)


# The Change object, its ints and the deque slot's tuple (240 bytes under tracemalloc).
_CHANGE_OVERHEAD = 240


class WatchCache:
    """Not thread-safe: the store calls it under its lock."""

    def __init__(self, opened_at: int) -> None:
        # Every change of a resource after floor(resource) is in _recent; before the first
        # write of this process, nothing is (opened_at).
        self._opened_at = opened_at
        self._recent: dict[str, deque[tuple[Change, int]]] = {}
        self._bytes: dict[str, int] = {}
        self._floor: dict[str, int] = {}
        self._latest: dict[str, int] = {}

    def covers(self, resource: str, since: int) -> bool:
        return since >= self._floor.get(resource, self._opened_at)

    def latest(self, resource: str) -> int:
        """The version of the last change of ``resource`` this process saw (0: none)."""
        return self._latest.get(resource, 0)

    def size(self) -> int:
        return sum(self._bytes.values())

    def since(self, resource: str, since: int, namespace: str | None, limit: int, top: int
              ) -> tuple[list[Change], int]:
        """As Store.events_since. The Change objects are shared between watchers: read
        them, never change them."""
        newer: list[Change] = []
        for change, _size in reversed(self._recent.get(resource, ())):
            if change.rv <= since:
                break
            if not namespace or change.namespace == namespace:
                newer.append(change)
        newer.reverse()
        if len(newer) >= limit:
            return newer[:limit], newer[limit - 1].rv
        return newer, top

    def add(self, resource: str, change: Change) -> None:
        size = change.memory()
        recent = self._recent.setdefault(resource, deque())
        recent.append((change, size))
        self._bytes[resource] = self._bytes.get(resource, 0) + size
        self._latest[resource] = change.rv
        while len(recent) > RECENT:
            self._forget_oldest(resource)
        # Over the byte budget: the oldest changes of the resource holding the most go.
        while self.size() > CACHE_BYTES:
            biggest = max(self._bytes, key=lambda r: self._bytes[r])
            if not self._recent[biggest]:
                break
            self._forget_oldest(biggest)

    def trim(self, floor: int) -> None:
        """Forget the changes up to version ``floor`` (the event log was compacted)."""
        for resource, recent in self._recent.items():
            while recent and recent[0][0].rv <= floor:
                self._forget_oldest(resource)

    def _forget_oldest(self, resource: str) -> None:
        change, size = self._recent[resource].popleft()
        self._bytes[resource] -= size
        self._floor[resource] = change.rv       # from now on answered from the event log
