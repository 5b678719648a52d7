"""The runs that ``kompy dev``'s restarts in place ended, counted as upstream counts restarts.

Upstream's kubelet starts a new container instance at every restart and gives it the
previous one's ``restartCount`` + 1 (kuberuntime's startContainer, kept on the container as
an annotation); the status shows the instance before it in ``lastState.terminated``. A
restart in place starts the *same* Docker container again (its writable layer holds the
synced files), so its attempt number, which counts the kubelet's own new containers, does not
move. This ledger counts what the attempt number misses: per pod and container name, the
runs a restart in place ended, and the terminated state of the last of them.

It lives in the pod's state folder (``restarts-in-place.json``), so a daemon restarted
between the stop and the start, or later, counts the same; each run is counted once, by its
container id and Docker's exact start and finish times.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.fsutil import write_atomic

log = logging.getLogger(__name__)

FILE = "restarts-in-place.json"


@dataclass(frozen=True)
class InPlace:
    """What restarts in place did to one container of a pod."""

    count: int = 0                       # runs ended by a restart in place
    last: dict[str, Any] | None = None   # the terminated state of the last such run


class InPlaceLedger:
    def __init__(self, folder: Callable[[str], Path]) -> None:
        """``folder``: the state folder of the pod of a given uid."""
        self.folder = folder
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, dict[str, Any]]] = {}  # pod uid -> name -> entry

    def of(self, pod_uid: str, container: str) -> InPlace:
        with self._lock:
            entry = self._entries(pod_uid).get(container)
        if not entry:
            return InPlace()
        return InPlace(int(entry.get("count") or 0), entry.get("last"))

    def count(self, pod_uid: str, container: str, run: str, ended: dict[str, Any]) -> None:
        """One more run of ``container`` ended by a restart in place: ``run`` names it
        exactly (container id and Docker's times), ``ended`` is its terminated state. The
        same run again (a start that failed and is tried again) counts once."""
        with self._lock:
            entries = self._entries(pod_uid)
            entry = entries.get(container) or {}
            if entry.get("run") == run:
                return
            entries[container] = {"count": int(entry.get("count") or 0) + 1, "run": run,
                                  "last": ended}
            path = self.folder(pod_uid) / FILE
            try:
                # Not fsynced (as the pod's volume files): a sync worker must not wait on a
                # busy disk, and every sync's status reads this ledger.
                write_atomic(path, json.dumps(entries, sort_keys=True), durable=False)
            except OSError as error:  # counted in memory still; said once per failure
                log.warning("could not record the restart in place of %s/%s: %s", pod_uid,
                            container, error)

    def forget(self, pod_uid: str) -> None:
        """The pod is gone from this kubelet (its folder goes with it, or stays for a later
        daemon when only its node went down)."""
        with self._lock:
            self._cache.pop(pod_uid, None)

    def _entries(self, pod_uid: str) -> dict[str, dict[str, Any]]:
        cached = self._cache.get(pod_uid)
        if cached is not None:
            return cached
        try:
            loaded = json.loads((self.folder(pod_uid) / FILE).read_text())
        except (OSError, ValueError):
            loaded = {}
        entries = {str(k): v for k, v in loaded.items() if isinstance(v, dict)} \
            if isinstance(loaded, dict) else {}
        self._cache[pod_uid] = entries
        return entries
