"""What every controller shares: a work queue of keys, worker threads, retries with back-off.

A controller's handlers only enqueue keys; ``sync(key)`` reads the current state from the
informers' caches and makes the world match (level-triggered and idempotent, so a repeated
or a missed event is harmless: the resync of the informers heals the latter).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informer, Informers, key_of
from kompy.client.objects import Obj, controller_ref, name, namespace, terminating, uid
from kompy.client.workqueue import WorkQueue
from kompy.errors import KompyError

log = logging.getLogger(__name__)


class Controller:
    name = "controller"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 workers: int = 2) -> None:
        self.client = client
        self.informers = informers
        self.recorder = recorder
        self.queue = WorkQueue()
        self._failures: dict[Hashable, int] = {}
        self._threads = [threading.Thread(target=self.queue.run_worker,
                                          args=(self._sync_once, self._on_error),
                                          name=f"{self.name}-{i}", daemon=True)
                         for i in range(workers)]

    def sync(self, key: Hashable) -> None:
        raise NotImplementedError

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.queue.shutdown()
        for thread in self._threads:
            thread.join(timeout)

    def still_there(self, resource: str, obj: Obj) -> bool:
        """Whether ``obj`` still exists and is not being deleted, asked of the API rather
        than of the cache, before something is made for it: its deletion may not have
        reached this controller's cache yet (it comes through another watch than the
        deletion of what it owns), and making its pods or ReplicaSets again would start
        pods that only wait out their grace period (``kompy down`` deletes all at once)."""
        try:
            current = self.client.get(resource, name(obj), namespace(obj))
        except NotFound:
            return False
        return uid(current) == uid(obj) and not terminating(current)

    def _sync_once(self, key: Hashable) -> None:
        self.sync(key)
        self._failures.pop(key, None)

    def _on_error(self, key: Hashable, error: Exception) -> float:
        if isinstance(error, Conflict):
            return 0.05  # someone else wrote first: read and retry
        if not isinstance(error, KompyError):  # a controller must survive any object
            log.error("%s: sync of %s failed", self.name, key, exc_info=error)
        return self._backoff(key, error)

    def _backoff(self, key: Hashable, error: Exception) -> float:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        # 1 s, 2 s, 4 s... capped at 60 s; the exponent is capped too, or after ~1,000
        # failures (17 hours) 2 ** n would no longer convert to a float.
        delay = min(0.5 * 2.0 ** min(failures, 8), 60.0)
        log.info("%s: %s failed (%s); retrying in %.1f s", self.name, key, error, delay)
        return delay


class PodOwnerController(Controller):
    """A controller of one kind that owns pods (ReplicaSet, StatefulSet, DaemonSet, Job).

    Its owner objects are queued when they change, and again when one of their pods changes
    (found through the pod's controller reference), so ``sync`` sees every pod event.
    """

    owner_resource = ""  # the informer's resource, e.g. "statefulsets"
    owner_kind = ""  # the ownerReference kind, e.g. "StatefulSet"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 workers: int = 1) -> None:
        super().__init__(client, informers, recorder, workers=workers)
        self.owners: Informer = informers[self.owner_resource]
        self.pods: Informer = informers["pods"]
        self.owners.add_handler(lambda obj, _deleted: self.queue.add(key_of(obj)))
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == self.owner_kind:
            self.queue.add((namespace(pod), str(ref.get("name"))))
