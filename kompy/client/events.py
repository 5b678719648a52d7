"""Posting core/v1 Events about objects, as kubelet and controllers do (`kompy get events`).

A repeated event (same object, reason and message) bumps ``count`` and ``lastTimestamp`` of
the existing Event instead of creating another, as Kubernetes' event correlator does.
Never raises: failing to record an event must not fail the work it reports on. Events are
posted by one background thread, off the path of the work they report on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

from kompy.client import ApiError, KubeClient
from kompy.client.objects import meta, now, random_suffix
from kompy.errors import KompyError

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, client: KubeClient, component: str, host: str = "kompy") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[dict[str, Any], str, str, str]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"events-{component}",
                                        daemon=True)
        self._thread.start()

    def normal(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.record(obj, "Normal", reason, message)

    def warning(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.record(obj, "Warning", reason, message)

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self._queue.put((dict(obj), type_, reason, message))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every recorded event was posted (tests)."""
        import time

        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                self._post(*item)
            finally:
                self._queue.task_done()

    def _post(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        m = meta(obj)
        namespace = str(m.get("namespace") or "default")
        key = (str(m.get("uid") or m.get("name")), type_, reason, message)
        stamp = now()
        try:
            with self._lock:
                previous = self._seen.get(key)
            if previous is not None:
                count = int(previous.get("count") or 1) + 1
                patched = self.client.patch("events", previous["metadata"]["name"], namespace,
                                            {"count": count, "lastTimestamp": stamp})
                with self._lock:
                    self._seen[key] = patched
                return
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"{m.get('name')}.{random_suffix(10)}",
                             "namespace": namespace},
                "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                                   "name": m.get("name"), "namespace": m.get("namespace"),
                                   "uid": m.get("uid"),
                                   "resourceVersion": m.get("resourceVersion")},
                "reason": reason, "message": message, "type": type_, "count": 1,
                "firstTimestamp": stamp, "lastTimestamp": stamp,
                "source": {"component": self.component, "host": self.host},
                "reportingComponent": self.component, "reportingInstance": self.host,
            }
            created = self.client.create(event)
            with self._lock:
                if len(self._seen) > 5000:
                    self._seen.clear()
                self._seen[key] = created
        except ApiError as error:
            if error.status == 404:  # the event was deleted meanwhile: start a new series
                with self._lock:
                    self._seen.pop(key, None)
            log.debug("could not record event %s on %s: %s", reason, m.get("name"), error)
        except KompyError as error:
            log.debug("could not record event %s on %s: %s", reason, m.get("name"), error)
