"""Posting core/v1 Events about objects, as kubelet and controllers do (`kompy get events`).

A repeated event (same object, reason and message) bumps ``count`` and ``lastTimestamp`` of
the existing Event instead of creating another, as Kubernetes' event correlator does. Like
the correlator's cache (client-go's ``maxLruCacheEntries``), the series remembered are the
last ``SERIES_REMEMBERED`` used, each as the Event's name and count only: a daemon that runs
for days posting events about pods that come and go holds a bounded few hundred kB.
Never raises: failing to record an event must not fail the work it reports on. Events are
posted by one background thread, off the path of the work they report on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from kompy.client import ApiError, KubeClient
from kompy.client.objects import meta, now, random_suffix
from kompy.errors import KompyError

log = logging.getLogger(__name__)

SERIES_REMEMBERED = 4096
SeriesKey = tuple[str, str, str, str]


class EventRecorder:
    def __init__(self, client: KubeClient, component: str, host: str = "kompy") -> None:
        self.client = client
        self.component = component
        self.host = host
        # A series (object, type, reason, message) -> its Event's name and count, oldest first.
        self._seen: OrderedDict[SeriesKey, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[dict[str, Any], str, str, str, int]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"events-{component}",
                                        daemon=True)
        self._thread.start()

    def normal(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.record(obj, "Normal", reason, message)

    def warning(self, obj: Mapping[str, Any], reason: str, message: str, times: int = 1
                ) -> None:
        self.record(obj, "Warning", reason, message, times)

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str,
               times: int = 1) -> None:
        """Post the event; ``times`` > 1 says it happened that often since last recorded
        (a caller that aggregates repeats itself, as the scheduler does)."""
        self._queue.put((dict(obj), type_, reason, message, times))

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

    def _post(self, obj: Mapping[str, Any], type_: str, reason: str, message: str,
              times: int = 1) -> None:
        m = meta(obj)
        namespace = str(m.get("namespace") or "default")
        key = (str(m.get("uid") or m.get("name")), type_, reason, message)
        stamp = now()
        try:
            with self._lock:
                previous = self._seen.get(key)
            if previous is not None:
                name, count = previous[0], previous[1] + times
                self.client.patch("events", name, namespace,
                                  {"count": count, "lastTimestamp": stamp})
                self._remember(key, name, count)
                return
            name = f"{m.get('name')}.{random_suffix(10)}"
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                                   "name": m.get("name"), "namespace": m.get("namespace"),
                                   "uid": m.get("uid"),
                                   "resourceVersion": m.get("resourceVersion")},
                "reason": reason, "message": message, "type": type_, "count": times,
                "firstTimestamp": stamp, "lastTimestamp": stamp,
                "source": {"component": self.component, "host": self.host},
                "reportingComponent": self.component, "reportingInstance": self.host,
            }
            created = self.client.create(event)
            self._remember(key, str(meta(created).get("name") or name), times)
        except ApiError as error:
            if error.status == 404:  # the event was deleted meanwhile: start a new series
                with self._lock:
                    self._seen.pop(key, None)
            log.debug("could not record event %s on %s: %s", reason, m.get("name"), error)
        except KompyError as error:
            log.debug("could not record event %s on %s: %s", reason, m.get("name"), error)

    def _remember(self, key: SeriesKey, name: str, count: int) -> None:
        with self._lock:
            self._seen[key] = (name, count)
            self._seen.move_to_end(key)
            while len(self._seen) > SERIES_REMEMBERED:
                self._seen.popitem(last=False)
