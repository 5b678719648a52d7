"""Each view of the dashboard: its title, the topic whose changes refresh it, and the values
its template shows (read from the watches' caches, never from a fresh list per page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kompy.client.tables import age
from kompy.dashboard import rows
from kompy.dashboard.context import Dashboard
from kompy.dashboard.graph import load_graph
from kompy.dashboard.watch import ClusterView
from kompy.dev.status import DevStatus, read_status, status_file


@dataclass(frozen=True)
class View:
    title: str
    topic: str          # the watch topic that refreshes it; "" for views that are not live


VIEWS: dict[str, View] = {
    "pods": View("Pods", "pods"),
    "workloads": View("Workloads", "workloads"),
    "services": View("Services", "services"),
    "events": View("Events", "events"),
    "configmaps": View("ConfigMaps", "configmaps"),
    "secrets": View("Secrets", "secrets"),
    "namespaces": View("Namespaces", "namespaces"),
    "graph": View("Compose graph", ""),
    # A dev loop's sync or rebuild always touches pods: their changes refresh the panel.
    "dev": View("kompy dev", "pods"),
}


def namespace_names(view: ClusterView) -> list[str]:
    return [str((n.get("metadata") or {}).get("name")) for n in view.list("namespaces")]


def context_of(dash: Dashboard, name: str, ns: str | None) -> dict[str, Any]:
    return _BUILDERS[name](dash, ns)


def _pods(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    usage = dash.metrics.usage()
    pods = [rows.pod_row(p, None if usage is None else usage.get(
        ((p.get("metadata") or {}).get("namespace", ""), (p.get("metadata") or {}).get(
            "name", "")))) for p in dash.view.list("pods", ns)]
    return {"pods": pods, "metrics": usage is not None}


def _workloads(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    return {"workloads": [rows.workload_row(kind, obj)
                          for kind, plural in rows.WORKLOAD_RESOURCES
                          for obj in dash.view.list(plural, ns)]}


def _services(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    return {"services": [rows.service_row(s) for s in dash.view.list("services", ns)]
            + [rows.ingress_row(i) for i in dash.view.list("ingresses", ns)]}


def _events(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    return {"events": rows.events_newest_first(dash.view.list("events", ns))}


def _configmaps(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    return {"items": [rows.configmap_row(c) for c in dash.view.list("configmaps", ns)]}


def _secrets(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    return {"items": [rows.secret_row(s) for s in dash.view.list("secrets", ns)]}


def _namespaces(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    return {"namespaces_rows": [rows.namespace_row(n) for n in dash.view.list("namespaces")]}


def _graph(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    found, why = load_graph(dash.compose_files, dash.project_directory)
    return {"graph": found, "graph_error": why}


def _dev(dash: Dashboard, ns: str | None) -> dict[str, Any]:
    found, _ = load_graph(dash.compose_files, dash.project_directory)
    project = found.project if found is not None else ""
    status = None
    if project and dash.kompy_home is not None:
        status = read_status(status_file(dash.kompy_home, project))
    return {"dev": None if status is None else DevPanel.of(status), "dev_project": project}


@dataclass(frozen=True)
class DevPanel:
    project: str
    namespace: str
    state: str
    watched: tuple[str, ...]
    last_kind: str
    last_services: tuple[str, ...]
    last_ago: str
    last_seconds: float
    last_ok: bool
    errors: tuple[str, ...]

    @classmethod
    def of(cls, s: DevStatus) -> DevPanel:
        ago = age(datetime.fromtimestamp(s.last_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")) \
            if s.last_at else ""
        return cls(s.project, s.namespace, s.state, s.watched, s.last_kind, s.last_services,
                   ago, s.last_seconds, s.last_ok, s.errors)


_BUILDERS = {
    "pods": _pods, "workloads": _workloads, "services": _services, "events": _events,
    "configmaps": _configmaps, "secrets": _secrets, "namespaces": _namespaces,
    "graph": _graph, "dev": _dev,
}
