"""client-go's ``flowcontrol.Backoff``: one exponential back-off per key.

Each key's back-off starts at ``initial`` seconds and doubles at every :meth:`~KeyedBackoff.next`
up to ``cap``; a key is *in back-off* until that many seconds passed since its last ``next``
(``IsInBackOffSinceUpdate``). A key left alone for twice ``cap`` starts over at ``initial``,
and is dropped by :meth:`~KeyedBackoff.gc` (upstream's ``hasExpired`` and ``GC``).
staging/src/k8s.io/client-go/util/flowcontrol/backoff.go
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Entry:
    backoff: float
    last: float


class KeyedBackoff:
    def __init__(self, initial: float, cap: float) -> None:
        self.initial, self.cap = initial, cap
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def remaining(self, key: str, now: float) -> float:
        """Seconds until ``key``'s back-off ends (0 when it is not in back-off)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(entry, now):
                return 0.0
            return max(entry.last + entry.backoff - now, 0.0)

    def next(self, key: str, now: float) -> float:
        """One more failure of ``key`` at ``now``: its back-off doubles (or starts, or
        starts over); returns it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(entry, now):
                entry = self._entries[key] = _Entry(self.initial, now)
            else:
                entry.backoff = min(entry.backoff * 2, self.cap)
            entry.last = now
            return entry.backoff

    def gc(self, now: float) -> None:
        """Forget the keys left alone for twice the cap (upstream runs it every minute)."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if self._expired(e, now)]:
                del self._entries[key]

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.last > 2 * self.cap
