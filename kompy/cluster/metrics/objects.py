"""PodMetrics and NodeMetrics (metrics.k8s.io/v1beta1) as metrics-server writes them: CPU in
nanocores (``"1234567n"``), memory in ``Ki`` when a whole number of them, ``timestamp`` of
the latest reading and ``window`` as a Go duration.
https://github.com/kubernetes/metrics/blob/master/pkg/apis/metrics/v1beta1/types.go
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from fractions import Fraction
from typing import Protocol

from kompy.client.objects import Obj, labels, meta, now
from kompy.client.quantity import BINARY, DECIMAL, canonical

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"


class Usage(Protocol):
    @property
    def container(self) -> str: ...
    @property
    def nanocores(self) -> int: ...
    @property
    def working_set(self) -> int: ...
    @property
    def timestamp(self) -> float: ...
    @property
    def window(self) -> float: ...


def cpu_quantity(nanocores: int) -> str:
    """As metrics-server writes it: resource.NewScaledQuantity(nanocores, -9), canonical
    (``1500u``, ``2m``, ``123456789n``)."""
    return canonical(Fraction(nanocores, 10 ** 9), DECIMAL)


def memory_quantity(size: int) -> str:
    """resource.NewQuantity(bytes, BinarySI), canonical (``64Mi``, ``1536Ki``)."""
    return canonical(Fraction(size), BINARY)


def rfc3339(at: float) -> str:
    return _dt.datetime.fromtimestamp(int(at), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_duration(seconds: float) -> str:
    """``15.003s`` (Go's Duration.String for the windows metrics-server gives)."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _usage(nanocores: int, working_set: int) -> Obj:
    return {"cpu": cpu_quantity(nanocores), "memory": memory_quantity(working_set)}


def pod_metrics(pod: Obj, containers: Sequence[Usage]) -> Obj:
    pod_meta = meta(pod)
    latest = max(c.timestamp for c in containers)
    window = max(c.window for c in containers)
    metadata: Obj = {"name": pod_meta.get("name"), "namespace": pod_meta.get("namespace"),
                     "creationTimestamp": now()}
    if labels(pod):
        metadata["labels"] = dict(labels(pod))
    return {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": metadata,
            "timestamp": rfc3339(latest), "window": go_duration(window),
            "containers": [{"name": c.container, "usage": _usage(c.nanocores, c.working_set)}
                           for c in sorted(containers, key=lambda c: c.container)]}


def node_metrics(node: Obj, containers: Sequence[Usage], sampled: tuple[float, float]
                 ) -> Obj:
    node_meta = meta(node)
    metadata: Obj = {"name": node_meta.get("name"), "creationTimestamp": now()}
    if labels(node):
        metadata["labels"] = dict(labels(node))
    window = max((c.window for c in containers), default=sampled[1] - sampled[0])
    return {"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": metadata,
            "timestamp": rfc3339(sampled[1]), "window": go_duration(window),
            "usage": _usage(sum(c.nanocores for c in containers),
                            sum(c.working_set for c in containers))}
