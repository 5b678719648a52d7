"""A wake-up call on any change of some kinds of object in a namespace, for waits that judge
the state again on each change (``kompy dev``'s rollout wait) instead of polling for it.

One watch per resource, from the version of the list the caller judged, so no change made
after that list is missed; each event sets :attr:`NamespaceChanges.changed`. The watches
end when the waiter is done (at their next event, or within :data:`WATCH_SECONDS`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kompy.client import Gone, KubeClient
from kompy.errors import KompyError

# How long one watch request lasts: a closed waiter's watches end within this at the latest.
WATCH_SECONDS = 5
# How often a waiter that may be interrupted asks whether it is (a lock and a flag).
INTERRUPT_POLL = 0.05
# A watch that failed (the API restarting) is tried again after this; meanwhile the waiter
# is woken so that it judges the state by listing.
RETRY_SECONDS = 0.5


class NamespaceChanges:
    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.changed = threading.Event()
        self._closed = threading.Event()
        self._watched: set[str] = set()

    def follow(self, resource: str, version: str | None) -> None:
        """Watch ``resource`` from ``version`` (the list just judged); once per resource."""
        if resource in self._watched or self._closed.is_set():
            return
        self._watched.add(resource)
        threading.Thread(target=self._watch, args=(resource, version or None),
                         name=f"dev-wait-{resource}", daemon=True).start()

    def wait(self, timeout: float, interrupted: Callable[[], bool] | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a change; False when none came, or when
        ``interrupted`` said so. The flag is cleared on the way out: a change made while
        the caller looks again wakes the next wait."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            step = left if interrupted is None else min(left, INTERRUPT_POLL)
            if self.changed.wait(max(0.0, step)):
                self.changed.clear()
                return True
            if interrupted is not None and interrupted():
                return False
            if left <= step:
                return False

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> NamespaceChanges:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _watch(self, resource: str, version: str | None) -> None:
        while not self._closed.is_set():
            try:
                for _kind, obj in self.client.watch(resource, self.namespace,
                                                    resource_version=version,
                                                    timeout_seconds=WATCH_SECONDS):
                    if self._closed.is_set():
                        return
                    version = str((obj.get("metadata") or {}).get("resourceVersion")
                                  or version or "") or None
                    self.changed.set()
            except Gone:
                version = None   # older than the server's history: every object comes again
                self.changed.set()
            except KompyError:
                self.changed.set()
                self._closed.wait(RETRY_SECONDS)
