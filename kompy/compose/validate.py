"""Checks the schema cannot express: references between services and resources, and cycles.

Follows compose-go's ``loader/validate.go`` and ``graph/``: a service may only depend on,
link to, share namespaces with or take volumes from a service that exists; named volumes,
networks, secrets and configs must be declared at the top level; ``depends_on`` must not form
a cycle. Every problem is collected and reported at once. Two services publishing the same
host port and protocol on the same address only get a warning (see :func:`port_clashes`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

from kompy.compose.profiles import dependencies
from kompy.errors import ComposeError, Diagnostic, KeyPath, KompyError, SourceLocation, raise_all
from kompy.model.volumes import split_volume_spec

Locate = Callable[[KeyPath], SourceLocation | None]


def validate_project(data: dict[str, Any], locate: Locate,
                     enabled: dict[str, Any] | None = None) -> None:
    """Check the ``enabled`` services (default: all); references may name any service.

    As in compose-go, services disabled by profiles are not checked: a profile the user did
    not ask for cannot break the project.
    """
    services = data.get("services") or {}
    checked = services if enabled is None else enabled
    errors: list[KompyError] = []

    def problem(path: KeyPath, message: str, hint: str | None = None) -> None:
        errors.append(ComposeError(message, location=locate(path), key_path=path, hint=hint))

    def undefined(path: KeyPath, what: str, name: str, known: Any) -> None:
        names = list(known or ())
        guess = difflib.get_close_matches(name, names, n=1)
        if guess:
            hint = f"did you mean {guess[0]!r}?"
        elif what == "service":
            hint = f"defined services: {', '.join(names) or '(none)'}"
        else:
            hint = f"declare it under the top-level {what}s: key"
        problem(path, f"{what} {name!r} is not defined", hint)

    for name, service in checked.items():
        if not isinstance(service, dict):
            continue
        base: KeyPath = ("services", name)
        for ref_path, ref in _service_refs(service):
            if ref not in services:
                undefined((*base, *ref_path), "service", ref, services)
        for kind, ref_path, ref in _resource_refs(service):
            if kind == "network" and ref == "default":
                continue
            if ref not in (data.get(kind + "s") or {}):
                undefined((*base, *ref_path), kind, ref, data.get(kind + "s"))
        if "network_mode" in service and service.get("networks"):
            problem((*base, "network_mode"),
                    "network_mode and networks cannot be used together",
                    "remove one of them; network_mode replaces the service's networks")
    for cycle in _cycles(checked):
        path = ("services", cycle[0], "depends_on")
        problem(path, f"dependency cycle: {' -> '.join(cycle)}",
                "remove one of the depends_on entries so that services can start in order")
    raise_all(errors)


def _service_refs(service: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    raw = service.get("depends_on")
    for i, dep in enumerate(dependencies(service)):
        yield ("depends_on", i if isinstance(raw, list) else dep), dep
    for i, link in enumerate(service.get("links") or ()):
        yield ("links", i), str(link).split(":")[0]
    for key in ("network_mode", "ipc", "pid"):
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            yield (key,), value[len("service:"):]
    for i, source in enumerate(service.get("volumes_from") or ()):
        text = str(source)
        if not text.startswith("container:"):
            yield ("volumes_from", i), text.split(":")[0]


def _is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "\\")) and not (
        len(source) > 1 and source[1] == ":")  # a Windows drive letter


def _resource_refs(service: dict[str, Any]) -> Iterator[tuple[str, KeyPath, str]]:
    for i, volume in enumerate(service.get("volumes") or ()):
        if isinstance(volume, str):
            parts = split_volume_spec(volume)
            if len(parts) > 1 and _is_named_volume(parts[0]):
                yield "volume", ("volumes", i), parts[0]
        elif isinstance(volume, dict) and volume.get("type", "volume") == "volume":
            source = volume.get("source")
            if isinstance(source, str) and source:
                yield "volume", ("volumes", i), source
    for kind in ("secret", "config"):
        for i, ref in enumerate(service.get(kind + "s") or ()):
            source = ref.get("source") if isinstance(ref, dict) else ref
            if isinstance(source, str):
                yield kind, (kind + "s", i), source
    networks = service.get("networks")
    if isinstance(networks, list):
        for i, network in enumerate(networks):
            yield "network", ("networks", i), str(network)
    elif isinstance(networks, dict):
        for network in networks:
            yield "network", ("networks", network), str(network)


def _cycles(services: dict[str, Any]) -> list[list[str]]:
    """Each depends_on cycle once, as a path that comes back to its first service."""
    graph = {name: [d for d in dependencies(s) if d in services] for name, s in services.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                found.append([*path[path.index(child):], child])
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph[child])))
    return found


def _published(port: Any) -> tuple[str, str, str] | None:
    """(host ip, published port, protocol) of a port entry that publishes a single port."""
    if isinstance(port, dict):
        published = port.get("published")
        if published in (None, ""):
            return None
        return (str(port.get("host_ip") or ""), str(published), str(port.get("protocol") or "tcp"))
    if not isinstance(port, str):
        return None
    text, _, protocol = port.partition("/")
    if text.startswith("["):  # [::1]:8080:80
        host, _, rest = text[1:].partition("]:")
        parts = [host, *rest.split(":")]
    else:
        parts = text.split(":")
    if len(parts) < 2 or not parts[-2] or "-" in parts[-2]:
        return None
    host = parts[-3] if len(parts) >= 3 else ""
    return (host, parts[-2], protocol or "tcp")


def port_clashes(services: dict[str, Any], locate: Locate) -> list[Diagnostic]:
    """Warnings for host ports published twice among the enabled services.

    Not an error: Docker Compose accepts such a file (services in different profiles, or a
    template never started, often share a port); it fails only when both containers start.
    """
    seen: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (port, protocol) -> (host, service)
    errors: list[Diagnostic] = []
    for name, service in services.items():
        ports = service.get("ports") if isinstance(service, dict) else None
        for i, port in enumerate(ports or ()):
            key = _published(port)
            if key is None:
                continue
            host, number, protocol = key
            users = seen.setdefault((number, protocol), [])
            clash = next((other for other_host, other in users
                          if other_host == host or {"", "0.0.0.0"} & {host, other_host}), None)
            if clash is not None:
                path: KeyPath = ("services", name, "ports", i)
                errors.append(Diagnostic(
                    f"host port {number}/{protocol} is also published by service {clash!r}",
                    location=locate(path), key_path=path,
                    hint="publish a different host port; two containers cannot listen on "
                         "the same one",
                ))
                continue
            users.append((host, name))
    return errors
