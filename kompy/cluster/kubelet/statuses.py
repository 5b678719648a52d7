"""The kubelet's own view of its pods' statuses, authoritative over the API's.

Upstream's status manager (``pkg/kubelet/status/status_manager.go``) keeps the status the
kubelet last set for each pod; its pod workers build the next status from that, not from
the API object, and its ``syncBatch`` writes the kubelet's version back whenever the API's
differs (``needsReconcile``: another writer, say ``kubectl patch pod --subresource=status``
or a controller, changed a field the kubelet owns). Here the pod informer's events say when
the API's status changed: one that is not the kubelet's own write and differs from the
kubelet's view wakes the pod after :data:`REPAIR_DELAY`, and its sync writes the kubelet's
status back: at most one repair a second for a pod, however often another writer writes.

A watch event can be missed (a watch that broke and relisted, an event handled while the
kubelet's own write was in flight), so, as upstream's ``syncBatch`` runs every 10 s, every
pod is also looked at every :data:`SWEEP_SECONDS` (:meth:`StatusManager.stale`). The sweep
is cheap when nothing differs: a pod whose resourceVersion is the kubelet's own last write
costs one integer comparison; only a pod another writer touched is compared field by field.

A write that gave up (Conflicts three times in a row: another writer kept changing the pod)
leaves the pod *unwritten* (:meth:`StatusManager.gave_up`) until a write of its status
succeeds: the sweep syncs it again, as upstream's syncBatch retries every pod whose
``apiStatusVersions`` entry is older than its status (``needsUpdate``): a failed update is
never recorded there, so it is tried at the next batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from kompy.client.objects import Obj, meta, uid
from kompy.cluster.kubelet.podstatus import merge_foreign, same_kubelet_status

# How soon a status overwritten by another writer is written back.
REPAIR_DELAY = 1.0
# How often every pod's status is compared with the kubelet's (upstream's syncBatch period).
SWEEP_SECONDS = 10.0


def _version(obj: Obj) -> int:
    try:
        return int(meta(obj).get("resourceVersion") or 0)
    except ValueError:  # not kompy's API server's counter: compare nothing
        return 0


def _overwritten(pod: Obj, held: tuple[int, dict[str, Any]] | None) -> bool:
    """The API's ``pod`` is newer than the kubelet's last write (``held``) and its status
    differs from it in a field the kubelet owns (the version is compared first: cheap)."""
    if held is None:
        return False
    version, status = held
    return _version(pod) > version and not same_kubelet_status(pod.get("status") or {}, status)


class StatusManager:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # pod uid -> (resourceVersion of the kubelet's last write, the status it holds)
        self._statuses: dict[str, tuple[int, dict[str, Any]]] = {}
        self._unwritten: set[str] = set()  # uids whose last status write gave up

    def record(self, pod: Obj) -> None:
        """``pod`` holds the kubelet's status (its write's answer, or a status it found
        already right)."""
        with self._lock:
            self._statuses[uid(pod)] = (_version(pod), dict(pod.get("status") or {}))
            self._unwritten.discard(uid(pod))

    def gave_up(self, pod_uid: str) -> None:
        """A write of the pod's status gave up: the sweep tries again (:meth:`unwritten`)."""
        with self._lock:
            self._unwritten.add(pod_uid)

    def unwritten(self, pods: Iterable[Obj]) -> list[str]:
        """The uids of ``pods`` whose kubelet status no write has landed since one gave up."""
        with self._lock:
            if not self._unwritten:
                return []
            unwritten = set(self._unwritten)
        return [uid(pod) for pod in pods if uid(pod) in unwritten]

    def view(self, pod: Obj) -> Obj:
        """``pod`` with the kubelet's status in place of the API's, other writers' own
        conditions and fields kept: what the next status is built from."""
        with self._lock:
            held = self._statuses.get(uid(pod))
        if held is None:
            return pod
        return {**pod, "status": merge_foreign(pod.get("status") or {}, held[1])}

    def needs_repair(self, pod: Obj) -> bool:
        """Another writer changed a field the kubelet owns: the API's status is newer than the
        kubelet's last write and differs from it."""
        with self._lock:
            held = self._statuses.get(uid(pod))
        return _overwritten(pod, held)

    def stale(self, pods: Iterable[Obj]) -> list[str]:
        """The uids of ``pods`` (as the API has them) whose status another writer changed
        from the kubelet's (see :meth:`needs_repair`): the periodic sweep's finding."""
        with self._lock:
            held = dict(self._statuses)
        return [uid(pod) for pod in pods if _overwritten(pod, held.get(uid(pod)))]

    def forget(self, pod_uid: str) -> None:
        with self._lock:
            self._statuses.pop(pod_uid, None)
            self._unwritten.discard(pod_uid)
