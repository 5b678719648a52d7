"""CPU and memory of pods from the metrics API (``metrics.k8s.io``), when the cluster serves it.

Metrics are not watchable: they are read when a pods table is rendered (which a watch event
caused), at most once per ``FRESH_SECONDS``. A cluster without the API (404, 503: no
metrics-server) gets no columns, asked again only after ``ABSENT_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kompy.client import KubeClient
from kompy.client.quantity import QuantityError, int_value, milli_value
from kompy.errors import KompyError

log = logging.getLogger(__name__)

PATH = "/apis/metrics.k8s.io/v1beta1/pods"
FRESH_SECONDS = 10.0
ABSENT_SECONDS = 60.0
Usage = dict[tuple[str, str], tuple[int, int]]


class PodMetrics:
    def __init__(self, client: KubeClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._usage: Usage | None = None
        self._at = float("-inf")

    def usage(self) -> Usage | None:
        """(namespace, pod) -> (CPU millicores, memory bytes); None when not served."""
        with self._lock:
            ttl = FRESH_SECONDS if self._usage is not None else ABSENT_SECONDS
            if self.clock() - self._at < ttl:
                return self._usage
            self._at = self.clock()
            self._usage = self._read()
            return self._usage

    def _read(self) -> Usage | None:
        try:
            listing = self.client.request("GET", PATH, timeout=5.0).json()
        except (KompyError, ValueError) as error:
            log.debug("no pod metrics: %s", error)
            return None
        return usage_of(listing)


def usage_of(listing: dict[str, Any]) -> Usage:
    """A PodMetricsList summed over each pod's containers."""
    out: Usage = {}
    for item in listing.get("items") or []:
        meta = item.get("metadata") or {}
        cpu = mem = 0
        for container in item.get("containers") or []:
            use = container.get("usage") or {}
            try:
                cpu += milli_value(use.get("cpu", "0"))
                mem += int_value(use.get("memory", "0"))
            except QuantityError:
                continue
        out[(str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = (cpu, mem)
    return out

