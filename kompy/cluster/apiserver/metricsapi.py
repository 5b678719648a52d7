"""The ``metrics.k8s.io/v1beta1`` API: PodMetrics and NodeMetrics, read-only.

On a real cluster kube-aggregator proxies this group to metrics-server; here the API server
answers it from the daemon's collector (cluster/metrics/), handed in through the small
:class:`MetricsSource` seam, as the pods' I/O is. The group is in discovery like any other, so
`kubectl top` (which looks for it in ``/apis`` first) and the HPA controller find it; while no
collector runs (the API served alone) it answers 503 ServiceUnavailable, as kube-aggregator
does while metrics-server is down.
https://github.com/kubernetes/design-proposals-archive/blob/main/instrumentation/resource-metrics-api.md
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kompy.client.errors import ApiError, NotFound
from kompy.client.objects import Obj, meta
from kompy.client.selectors import (
    matches_fields,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
)
from kompy.cluster.metrics.objects import API_VERSION, GROUP, VERSION

__all__ = ["GROUP", "VERSION", "MetricsSource", "route", "serve"]

VERBS = ["get", "list"]
# plural -> (kind, namespaced)
KINDS = {"pods": ("PodMetrics", True), "nodes": ("NodeMetrics", False)}


class MetricsSource(Protocol):
    def pod_metrics(self) -> list[Obj]: ...
    def node_metrics(self) -> list[Obj]: ...


@dataclass(frozen=True)
class MetricsRoute:
    plural: str
    namespace: str | None
    name: str | None


def route(parts: list[str]) -> MetricsRoute | None:
    """``apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/web`` -> MetricsRoute; None for paths
    outside the group and for its discovery document."""
    if parts[:3] != ["apis", GROUP, VERSION] or len(parts) == 3:
        return None
    rest, namespace = parts[3:], None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if rest[0] not in KINDS or len(rest) > 2:
        raise NotFound(404, "NotFound", "the server could not find the requested resource")
    if namespace is not None and not KINDS[rest[0]][1]:
        raise NotFound(404, "NotFound", f"{rest[0]} are not namespaced")
    return MetricsRoute(rest[0], namespace, rest[1] if len(rest) == 2 else None)


def serve(source: MetricsSource | None, method: str, found: MetricsRoute,
          query: dict[str, str]) -> Obj:
    """The object or list the route names, filtered by the list's selectors."""
    if method != "GET":
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on "
                                                f"{found.plural}.{GROUP}: it is read-only")
    if source is None:
        raise ApiError(503, "ServiceUnavailable",
                       "the server is currently unable to handle the request")
    kind, _ = KINDS[found.plural]
    items = source.pod_metrics() if found.plural == "pods" else source.node_metrics()
    if found.namespace is not None:
        items = [i for i in items if meta(i).get("namespace") == found.namespace]
    if found.name is not None:
        for item in items:
            if meta(item).get("name") == found.name:
                return item
        raise NotFound(404, "NotFound", f'{found.plural}.{GROUP} "{found.name}" not found')
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"))
    items = [i for i in items
             if matches_labels(labels, meta(i).get("labels")) and matches_fields(fields, i)]
    return {"kind": f"{kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}


# -- discovery -------------------------------------------------------------------------------

def resource_list() -> Obj:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION,
            "resources": [{"name": plural, "singularName": "", "namespaced": namespaced,
                           "kind": kind, "verbs": VERBS}
                          for plural, (kind, namespaced) in KINDS.items()]}


def aggregated_resources() -> list[Obj]:
    return [{"resource": plural, "responseKind": {"group": GROUP, "version": VERSION,
                                                  "kind": kind},
             "scope": "Namespaced" if namespaced else "Cluster",
             "singularResource": "", "verbs": VERBS}
            for plural, (kind, namespaced) in KINDS.items()]
