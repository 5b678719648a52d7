"""The collector: every ``resolution`` seconds one reading of every running app container.

metrics-server scrapes each kubelet every ``--metric-resolution`` (15 s by default) and
serves, per container, the CPU rate between its last two scrapes (the *window*) and the
latest memory working set; a container needs two scrapes before it has a CPU rate, so a new
pod shows up in ``kubectl top`` one resolution after it starts. This collector does the same
on the engine's readings (kubelet/cgroups.py: cgroup files, else the engine's stats).
https://github.com/kubernetes-sigs/metrics-server/blob/master/FAQ.md#how-often-metrics-are-scraped
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from kompy.client.informer import Informer
from kompy.client.objects import Obj, meta, uid
from kompy.cluster.kubelet.backend import (
    LABEL_CONTAINER,
    LABEL_NAMESPACE,
    LABEL_POD,
    LABEL_POD_UID,
    LABEL_ROLE,
    ContainerBackend,
    ContainerUsage,
)
from kompy.cluster.metrics import objects
from kompy.errors import KompyError

log = logging.getLogger(__name__)

DEFAULT_RESOLUTION = 15.0
# metrics-server's --metric-resolution; tests shorten it.
RESOLUTION_ENV = "KOMPY_METRIC_RESOLUTION"
MIN_RESOLUTION = 0.5


def resolution_from_env() -> float:
    """``KOMPY_METRIC_RESOLUTION`` in seconds (``5``, ``5s``), else 15 s."""
    raw = os.environ.get(RESOLUTION_ENV, "").strip().removesuffix("s")
    try:
        return max(MIN_RESOLUTION, float(raw)) if raw else DEFAULT_RESOLUTION
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s s", RESOLUTION_ENV, raw,
                    DEFAULT_RESOLUTION)
        return DEFAULT_RESOLUTION


@dataclass(frozen=True)
class ContainerMetric:
    """One container's usage over its last window."""

    namespace: str
    pod: str
    pod_uid: str
    container: str
    nanocores: int
    working_set: int
    timestamp: float   # the latest reading's time
    window: float      # seconds between the two readings the rate is computed from


def rate(prev: ContainerUsage, last: ContainerUsage) -> ContainerMetric | None:
    """The metric of two readings of one container; None when they give no rate (no time
    between them, or a counter that went back: a reset)."""
    window = last.at - prev.at
    used = last.cpu_ns - prev.cpu_ns
    if window <= 0 or used < 0:
        return None
    labels = last.labels
    return ContainerMetric(labels.get(LABEL_NAMESPACE, ""), labels.get(LABEL_POD, ""),
                           labels.get(LABEL_POD_UID, ""), labels.get(LABEL_CONTAINER, ""),
                           int(used / window), last.working_set, last.at, window)


class Collector:
    """Samples the backend; :meth:`pod_metrics` and :meth:`node_metrics` answer the API
    server from the latest samples (its ``MetricsSource``)."""

    def __init__(self, backend: ContainerBackend, pods: Informer, nodes: Informer,
                 stop: threading.Event, resolution: float = DEFAULT_RESOLUTION) -> None:
        self.backend = backend
        self.pods = pods
        self.nodes = nodes
        self.stop = stop
        self.resolution = resolution
        self._last: dict[str, ContainerUsage] = {}
        self._metrics: list[ContainerMetric] = []
        self._sampled: tuple[float, float] | None = None   # (previous, latest) sample times
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="metrics-collector",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.sample()
            except KompyError as error:   # the engine away: the next round tries again
                log.info("metrics: sampling failed: %s", error.message)
            except Exception:  # noqa: BLE001 - the collector must outlive any surprise
                log.exception("metrics: sampling failed")
            self.stop.wait(max(0.0, self.resolution - (time.monotonic() - started)))

    def sample(self) -> None:
        """One reading of every running app container; rates against the previous one."""
        readings = self.backend.usage({LABEL_ROLE: "app"})
        metrics: list[ContainerMetric] = []
        last: dict[str, ContainerUsage] = {}
        for reading in readings:
            last[reading.container_id] = reading
            prev = self._last.get(reading.container_id)
            found = rate(prev, reading) if prev is not None else None
            if found is not None:
                metrics.append(found)
        now = time.time()
        with self._lock:
            self._last = last   # containers gone since drop out here
            self._metrics = metrics
            self._sampled = (self._sampled[1] if self._sampled else now, now)

    # -- what the API server serves ---------------------------------------------------------

    def pod_metrics(self) -> list[Obj]:
        with self._lock:
            metrics = list(self._metrics)
        by_pod: dict[tuple[str, str], list[ContainerMetric]] = {}
        for metric in metrics:
            by_pod.setdefault((metric.namespace, metric.pod), []).append(metric)
        out: list[Obj] = []
        for (namespace, name), containers in sorted(by_pod.items()):
            pod = self.pods.get(namespace, name)
            # A pod deleted, or one of the same name made again since: not this pod's.
            if pod is None or any(c.pod_uid not in ("", uid(pod)) for c in containers):
                continue
            out.append(objects.pod_metrics(pod, containers))
        return out

    def node_metrics(self) -> list[Obj]:
        """Per node, the sum of its pods' containers (as a kind node's container holds its
        pods); a node without pods uses nothing over the collector's last window."""
        with self._lock:
            metrics, sampled = list(self._metrics), self._sampled
        if sampled is None or sampled[0] == sampled[1]:
            return []   # one sample: no window yet
        by_node: dict[str, list[ContainerMetric]] = {}
        for metric in metrics:
            pod = self.pods.get(metric.namespace, metric.pod)
            node = str(((pod or {}).get("spec") or {}).get("nodeName") or "")
            by_node.setdefault(node, []).append(metric)
        nodes = sorted(self.nodes.list(), key=lambda node: str(meta(node).get("name")))
        return [objects.node_metrics(node, by_node.get(str(meta(node).get("name")), []),
                                     sampled) for node in nodes]
