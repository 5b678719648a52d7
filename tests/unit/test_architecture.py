"""The house rules of kompy's imports, read from the source (docs/architecture.md).

Imports point one way: cli -> (check, dev, kubectl) -> (convert, cluster) ->
(compose, model, client) -> (errors, fsutil, yaml, engine). No file imports from a package
above its own; ``convert`` and ``cluster`` never import each other; ``kubectl`` never imports
``cluster``; no two packages import each other; no files import each other in a circle; and
each outside library is imported by its one adapter package. Every import counts, those
inside functions too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "kompy"

# Each top-level package or module of kompy, by layer: a file may import its own layer and
# the layers below. A new package must be given a layer here (and in docs/architecture.md).
LAYERS = {
    "__main__": 5,
    "cli": 4,
    "check": 3, "dev": 3, "kubectl": 3, "dashboard": 3,
    "convert": 2, "cluster": 2,
    "compose": 1, "model": 1, "client": 1,
    "errors": 0, "fsutil": 0, "yaml": 0, "engine": 0, "__init__": 0,
}
NEVER = {
    ("convert", "cluster"): "the converter writes manifests for any cluster",
    ("cluster", "convert"): "the cluster runs manifests from any source",
    ("kubectl", "cluster"): "kubectl-shaped commands are API clients, for real clusters too",
    ("dashboard", "cluster"): "the dashboard is an API client, for real clusters too",
}
# One adapter per outside library: the top-level module of the library -> where it may be
# imported.
ADAPTERS = {
    "ruamel": ("kompy.yaml",),
    "docker": ("kompy.engine",),
    "requests": ("kompy.client",),
    "wsproto": ("kompy.client.websocket",),
    "google": ("kompy.cluster.apiserver.protobuf",),
    "dns": ("kompy.cluster.dns.wire",),
    "click": ("kompy.cli",),
    "jinja2": ("kompy.convert.render", "kompy.dashboard.render"),
    "watchdog": ("kompy.dev.watcher",),
    "h11": ("kompy.cluster.ingress.http1",),
    "starlette": ("kompy.dashboard.app", "kompy.dashboard.security"),
    "uvicorn": ("kompy.dashboard.server",),
    "jwt": ("kompy.cluster.apiserver.satokens",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for each import in the file, kompy's resolved to a module
    of the tree (``from pkg import mod`` names the module, else the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in modules() else target), node.lineno


@cache
def kompy_edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for name, path in modules().items():
        for target, _ in imported(name, path):
            while target and target not in modules():
                target = target.rpartition(".")[0]  # an attribute of a module, or a package
            if target.startswith("kompy.") and target != name:
                graph[name].add(target)
    return graph


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer() -> None:
    unknown = sorted({top(m) for m in modules()} - set(LAYERS))
    assert not unknown, f"give these a layer in LAYERS and docs/architecture.md: {unknown}"


def test_imports_point_down() -> None:
    wrong = []
    for source, targets in kompy_edges().items():
        for target in targets:
            a, b = top(source), top(target)
            if a == b:
                continue
            if (a, b) in NEVER:
                wrong.append(f"{source} imports {target}: {NEVER[a, b]}")
            elif LAYERS[b] > LAYERS[a]:
                wrong.append(f"{source} (layer {LAYERS[a]}) imports {target} "
                             f"(layer {LAYERS[b]}), a package above its own")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_two_packages_import_each_other() -> None:
    pairs = {(top(s), top(t)) for s, ts in kompy_edges().items() for t in ts if top(s) != top(t)}
    both = sorted(f"{a} <-> {b}" for a, b in pairs if (b, a) in pairs and a < b)
    assert not both, both


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the graph's components of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(component)
    return out


def test_no_import_cycles_between_files() -> None:
    cycles = [sorted(c) for c in strongly_connected(kompy_edges())]
    assert not cycles, f"files that import each other in a circle: {cycles}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_each_library_is_imported_by_its_adapter_alone() -> None:
    wrong = []
    for name, path in modules().items():
        for target, line in imported(name, path):
            library = target.split(".")[0]
            allowed = ADAPTERS.get(library)
            if allowed and not any(name == a or name.startswith(a + ".") for a in allowed):
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line}: imports {target} "
                             f"(only {', '.join(allowed)} may)")
    assert not wrong, "\n".join(wrong)
