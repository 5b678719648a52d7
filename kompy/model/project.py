"""A whole resolved Compose project: services plus the top-level volumes, networks, secrets and
configs they refer to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath, SourceLocation
from kompy.model.base import Locator, NullLocator, Problems, fail, gc_paused
from kompy.model.definitions import (
    ConfigDef,
    NetworkDef,
    SecretDef,
    VolumeDef,
    check_references,
    parse_section,
)
from kompy.model.scalars import expect_mapping, kind
from kompy.model.service import Service

__all__ = ["ConfigDef", "NetworkDef", "Project", "SecretDef", "VolumeDef"]

_SECTIONS = ("services", "volumes", "networks", "secrets", "configs")
# Top-level keys the loader has already dealt with.
_HANDLED_ELSEWHERE = frozenset({"name", "version", "include"})


@dataclass(frozen=True)
class Project:
    name: str
    working_dir: str  # the project directory, absolute
    services: dict[str, Service] = field(default_factory=dict)
    volumes: dict[str, VolumeDef] = field(default_factory=dict)
    networks: dict[str, NetworkDef] = field(default_factory=dict)
    secrets: dict[str, SecretDef] = field(default_factory=dict)
    configs: dict[str, ConfigDef] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)  # top-level x-* keys
    compose_files: tuple[str, ...] = ()
    locator: Locator = field(default_factory=NullLocator, compare=False, repr=False)

    def locate(self, path: KeyPath) -> SourceLocation | None:
        return self.locator.locate(path)

    @classmethod
    def parse(
        cls,
        data: dict[str, Any],
        *,
        name: str,
        working_dir: str,
        locator: Locator,
        base_dir: Callable[[KeyPath], str] | None = None,
        compose_files: tuple[str, ...] = (),
    ) -> Project:
        """The typed project from the merged, interpolated, extends-resolved data.

        Every problem in every service and definition is reported at once (a MultiError,
        sorted by position). Relative paths are made absolute against ``base_dir(path)``
        (default: ``working_dir``). As compose-go, a "default" network is declared when a
        service uses it without the file declaring it.
        """
        with gc_paused():
            return cls._parse(data, name, working_dir, locator,
                              base_dir or (lambda _path: working_dir), compose_files)

    @classmethod
    def _parse(cls, data: dict[str, Any], name: str, working_dir: str, at: Locator,
               base: Callable[[KeyPath], str], compose_files: tuple[str, ...]) -> Project:
        if not isinstance(data, dict):
            raise fail(at, (), f"a Compose file is a mapping, got {kind(data)}")
        problems = Problems()
        services: dict[str, Service] = {}
        raw_services = problems.guard(
            expect_mapping, data.get("services") or {}, at, ("services",)) or {}
        for key in sorted(raw_services):
            path: KeyPath = ("services", key)
            got = problems.guard(Service.parse, key, raw_services[key], at, path, base(path))
            if got is not None:
                services[key] = got
        sections = {
            section: problems.guard(parse_section, section, data.get(section), name, at, base)
            or {}
            for section in _SECTIONS[1:]
        }
        networks = sections["networks"]
        if "default" not in networks and any(
            "default" in s.networks for s in services.values()
        ):
            networks["default"] = NetworkDef(name="default")
        for problem in check_references(services, sections, at, raw_services):
            problems.add(problem)
        problems.raise_if_any()
        return cls(
            name=name,
            working_dir=working_dir,
            services=services,
            volumes=dict(sorted(sections["volumes"].items())),
            networks=dict(sorted(networks.items())),
            secrets=dict(sorted(sections["secrets"].items())),
            configs=dict(sorted(sections["configs"].items())),
            extensions={k: data[k] for k in sorted(data) if k.startswith("x-")},
            compose_files=compose_files,
            locator=at,
        )

    def to_compose(self) -> dict[str, Any]:
        """The long form `docker compose config` prints: keys sorted, stable, and never a
        secret's or config's content."""
        with gc_paused():
            return self._to_compose()

    def _to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.services:
            out["services"] = {k: s.to_compose() for k, s in sorted(self.services.items())}
        for section in _SECTIONS[1:]:
            defs = getattr(self, section)
            if defs:
                out[section] = {k: d.to_compose(self.name) for k, d in sorted(defs.items())}
        out.update(self.extensions)
        return dict(sorted(out.items()))
