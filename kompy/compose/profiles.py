"""Which services are part of this run: profiles and the services named on the command line.

Compose Specification "Using profiles with Compose" and the Docker Compose profiles guide:

- a service without ``profiles`` is always enabled; one with profiles only when one of them is
  active (``--profile``, ``COMPOSE_PROFILES``; ``*`` activates every profile);
- a service named on the command line is enabled even if its profiles are not active (its
  profiles are activated automatically), and the services it depends on come with it;
- dependencies are not activated automatically: a required ``depends_on`` on a service whose
  profiles are all inactive is an error that names the profile to enable; an optional one
  (``required: false``) is dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from kompy.errors import (
    ComposeError,
    Diagnostic,
    KeyPath,
    KompyError,
    SourceLocation,
    raise_all,
)

Locate = Callable[[KeyPath], SourceLocation | None]


def service_profiles(service: Any) -> list[str]:
    raw = service.get("profiles") if isinstance(service, dict) else None
    return [str(p) for p in raw] if isinstance(raw, list) else []


def dependencies(service: Any) -> dict[str, bool]:
    """depends_on names -> required, for the short and long forms."""
    raw = service.get("depends_on") if isinstance(service, dict) else None
    if isinstance(raw, list):
        return {str(name): True for name in raw}
    if isinstance(raw, dict):
        return {
            str(name): not (isinstance(spec, dict) and spec.get("required") is False)
            for name, spec in raw.items()
        }
    return {}


def select_services(
    services: dict[str, Any],
    profiles: tuple[str, ...],
    selected: tuple[str, ...],
    locate: Locate,
) -> dict[str, Any]:
    """The enabled services (in their original order), with dropped optional dependencies."""
    unknown = [name for name in selected if name not in services]
    if unknown:
        guess = difflib.get_close_matches(unknown[0], list(services), n=1)
        raise ComposeError(
            f"no such service: {', '.join(unknown)}",
            hint=f"did you mean {guess[0]!r}?" if guess else
            f"services: {', '.join(services) or '(none)'}",
        )
    active = set(profiles)
    for name in selected:
        active.update(service_profiles(services[name]))
    every = "*" in active

    def enabled(name: str) -> bool:
        own = service_profiles(services[name])
        return not own or every or bool(active.intersection(own))

    if selected:
        keep: list[str] = []
        todo = list(selected)
        while todo:
            name = todo.pop()
            if name in keep:
                continue
            keep.append(name)
            todo.extend(d for d in dependencies(services[name]) if d in services)
        wanted = set(keep)
    else:
        wanted = set(services)

    out: dict[str, Any] = {}
    errors: list[KompyError] = []
    for name, service in services.items():
        if name not in wanted or not (enabled(name) or name in selected):
            continue
        deps = dependencies(service)
        dropped = [d for d, required in deps.items()
                   if d in services and not enabled(d) and not required]
        for dep, required in deps.items():
            if dep in services and not enabled(dep) and required:
                path: KeyPath = ("services", name, "depends_on")
                errors.append(ComposeError(
                    f"service {name!r} depends on {dep!r}, which is not enabled: its profiles "
                    f"({', '.join(service_profiles(services[dep]))}) are not active",
                    location=locate(path), key_path=path,
                    hint=f"add --profile {service_profiles(services[dep])[0]}, or make the "
                         "dependency optional with required: false",
                ))
        if dropped:
            service = _without_dependencies(service, dropped)
        out[name] = service
    raise_all(errors)
    return out


def _without_dependencies(service: dict[str, Any], names: list[str]) -> dict[str, Any]:
    raw = service["depends_on"]
    if isinstance(raw, list):
        kept: Any = [d for d in raw if d not in names]
    else:
        kept = {d: spec for d, spec in raw.items() if d not in names}
    return {**service, "depends_on": kept}


def unused_profiles(services: dict[str, Any], enabled: dict[str, Any],
                    profiles: tuple[str, ...], locate: Locate) -> list[Diagnostic]:
    """Warnings for a selection that is probably a mistake: an active profile that no service
    declares (a typo), and a project whose services are all disabled. Docker Compose accepts
    both silently (`config` prints no services, exit 0); a conversion that writes nothing
    deserves a word, so kompy warns and still exits 0."""
    out: list[Diagnostic] = []
    declared = {p for s in services.values() for p in service_profiles(s)}
    where = locate(("services",))
    for profile in profiles:
        if profile != "*" and profile not in declared:
            guess = difflib.get_close_matches(profile, sorted(declared), n=1)
            out.append(Diagnostic(
                f"profile {profile!r} selects no service: no service lists it",
                location=where, key_path=("services",),
                hint=f"did you mean {guess[0]!r}?" if guess else
                "profiles of this project: " + (", ".join(sorted(declared)) or "(none)")))
    if services and not enabled:
        out.append(Diagnostic(
            "no service is enabled: every service has profiles, and none of them is active",
            location=where, key_path=("services",),
            hint="activate one with --profile NAME (or COMPOSE_PROFILES); profiles: "
                 + ", ".join(sorted(declared))))
    return out
