"""The Compose project's service graph as a picture: services in layers by ``depends_on``
(what a service waits for is drawn below it), each box with its published ports and networks.

The layout is plain arithmetic over the model's values; the SVG is drawn by the template
``graph.html`` (autoescaped, styled by classes: the CSP allows no inline style).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kompy.errors import KompyError

NODE_WIDTH, NODE_HEIGHT = 230, 70
GAP_X, GAP_Y, MARGIN = 40, 70, 20


@dataclass(frozen=True)
class Node:
    name: str
    ports: str          # "8080→8000/tcp, …"
    networks: str
    x: int
    y: int


@dataclass(frozen=True)
class Edge:
    source: str         # the dependent service
    target: str         # what it waits for
    condition: str
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Graph:
    project: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int


def levels(depends: dict[str, set[str]]) -> dict[str, int]:
    """0 for a service that waits for nothing, else one more than the highest it waits for
    (a cycle, which Compose refuses anyway, is cut where it is found)."""
    found: dict[str, int] = {}

    def level(name: str, path: frozenset[str]) -> int:
        if name in found:
            return found[name]
        below = [level(d, path | {name}) for d in sorted(depends.get(name, ()))
                 if d in depends and d not in path]
        found[name] = 1 + max(below) if below else 0
        return found[name]
    for name in sorted(depends):
        level(name, frozenset())
    return found


def _ports(service: Any) -> str:
    out = []
    for port in service.ports:
        published = f"{port.published}→" if port.published else ""
        out.append(f"{published}{port.target}/{port.protocol}")
    return ", ".join(out)


def layout(project: Any) -> Graph:
    """The picture of a loaded :class:`kompy.model.project.Project`."""
    services = project.services
    depends = {name: set(s.depends_on) for name, s in services.items()}
    level_of = levels(depends)
    top = max(level_of.values(), default=0)
    rows: dict[int, list[str]] = {}
    for name in sorted(services):
        rows.setdefault(top - level_of[name], []).append(name)
    widest = max((len(r) for r in rows.values()), default=1)
    width = MARGIN * 2 + widest * NODE_WIDTH + (widest - 1) * GAP_X
    nodes: dict[str, Node] = {}
    for row, names in rows.items():
        used = len(names) * NODE_WIDTH + (len(names) - 1) * GAP_X
        left = (width - used) // 2
        for i, name in enumerate(names):
            service = services[name]
            nodes[name] = Node(name, _ports(service), ", ".join(sorted(service.networks)),
                               left + i * (NODE_WIDTH + GAP_X),
                               MARGIN + row * (NODE_HEIGHT + GAP_Y))
    edges = []
    for name, service in sorted(services.items()):
        for target, dependency in sorted(service.depends_on.items()):
            if target not in nodes:
                continue
            a, b = nodes[name], nodes[target]
            edges.append(Edge(name, target, dependency.condition, a.x + NODE_WIDTH // 2,
                              a.y + NODE_HEIGHT, b.x + NODE_WIDTH // 2, b.y - 4))
    height = MARGIN * 2 + (top + 1) * NODE_HEIGHT + top * GAP_Y
    return Graph(project.name, tuple(nodes.values()), tuple(edges), width, height)


def load_graph(files: tuple[str, ...], project_directory: str | None = None
               ) -> tuple[Graph | None, str]:
    """The graph of the Compose project (the files given, else the one in the current folder,
    as ``docker compose`` finds it), or None and why not."""
    from kompy.compose.loader import LoadOptions, load_project

    try:
        project = load_project(LoadOptions(files=files, project_directory=project_directory))
    except KompyError as error:
        return None, error.format()
    return layout(project), ""
