"""Top-level volumes, networks, secrets and configs (compose-spec "Volumes top-level
element" and its siblings), and the check that services only use declared ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kompy.errors import ComposeError, KeyPath
from kompy.model.base import Locator, Problems, fail
from kompy.model.scalars import (
    expect_bool,
    expect_mapping,
    opt_str,
    resolve_path,
    str_mapping,
)
from kompy.model.service import Service

_COMMON = frozenset({"name", "external", "labels"})


@dataclass(frozen=True, slots=True)
class VolumeDef:
    name: str  # the key in the Compose file
    external: bool = False
    external_name: str | None = None  # `name:` of the volume in the engine, when set
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other keys, as written

    @classmethod
    def parse(cls, key: str, body: dict[str, Any], project: str, at: Locator, path: KeyPath,
              base_dir: str) -> VolumeDef:
        """The definition ``key`` of its top-level section, from its mapping ``body``."""
        common = _parse_common(key, body, project, at, path)
        driver = opt_str(body.get("driver"), at, (*path, "driver"))
        opts = str_mapping(body.get("driver_opts"), at, (*path, "driver_opts"))
        if driver == "local" and opts.get("o") == "bind" and "device" in opts:
            # A local volume that is really a bind mount: compose-go makes its device absolute.
            opts["device"] = resolve_path(base_dir, opts["device"])
        return cls(driver=driver, driver_opts=opts,
                   extra=_rest(body, frozenset({"driver", "driver_opts"})), **common)

    def to_compose(self, project: str) -> dict[str, Any]:
        out = _common(self, project)
        if self.driver is not None:
            out["driver"] = self.driver
        if self.driver_opts:
            out["driver_opts"] = dict(self.driver_opts)
        return _finish(self, out)


@dataclass(frozen=True, slots=True)
class NetworkDef:
    name: str
    external: bool = False
    external_name: str | None = None
    driver: str | None = None
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # driver_opts, ipam, attachable...

    @classmethod
    def parse(cls, key: str, body: dict[str, Any], project: str, at: Locator, path: KeyPath,
              base_dir: str) -> NetworkDef:
        """The definition ``key`` of its top-level section, from its mapping ``body``."""
        common = _parse_common(key, body, project, at, path)
        extra = _rest(body, frozenset({"driver", "internal"}))
        if extra.get("driver_opts") is not None:
            # Option values are strings for the engine (compose-go: map[string]string).
            extra["driver_opts"] = str_mapping(extra["driver_opts"], at, (*path, "driver_opts"))
        return cls(
            driver=opt_str(body.get("driver"), at, (*path, "driver")),
            internal=expect_bool(body.get("internal", False), at, (*path, "internal")),
            extra=extra, **common,
        )

    def to_compose(self, project: str) -> dict[str, Any]:
        out = _common(self, project)
        if self.driver is not None:
            out["driver"] = self.driver
        if self.internal:
            out["internal"] = True
        return _finish(self, out)


@dataclass(frozen=True, slots=True)
class SecretDef:
    """A top-level secret. ``content`` is filled by the loader from ``file`` or ``environment``;
    it must never be printed, logged or put anywhere but a Kubernetes Secret."""

    name: str
    file: str | None = None  # absolute path
    environment: str | None = None  # name of the variable holding the value
    external: bool = False
    external_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    content: bytes | None = field(default=None, repr=False)
    extensions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # driver, template_driver...

    @classmethod
    def parse(cls, key: str, body: dict[str, Any], project: str, at: Locator, path: KeyPath,
              base_dir: str) -> SecretDef:
        """The definition ``key`` of its top-level section, from its mapping ``body``."""
        secret = cls(**_parse_common(key, body, project, at, path),
                     **_parse_source(body, at, path, base_dir),
                     extra=_rest(body, frozenset({"file", "environment"})))
        _check_source(secret, at, path, ("file", "environment"))
        return secret

    def to_compose(self, project: str) -> dict[str, Any]:
        return _finish(self, _source(self, _common(self, project)))


@dataclass(frozen=True, slots=True)
class ConfigDef:
    name: str
    file: str | None = None
    environment: str | None = None
    content_inline: str | None = None  # the `content:` key
    external: bool = False
    external_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    content: bytes | None = field(default=None, repr=False)  # from file / environment / content
    extensions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # driver, template_driver...

    @classmethod
    def parse(cls, key: str, body: dict[str, Any], project: str, at: Locator, path: KeyPath,
              base_dir: str) -> ConfigDef:
        """The definition ``key`` of its top-level section, from its mapping ``body``."""
        config = cls(**_parse_common(key, body, project, at, path),
                     **_parse_source(body, at, path, base_dir),
                     content_inline=opt_str(body.get("content"), at, (*path, "content")),
                     extra=_rest(body, frozenset({"file", "environment", "content"})))
        _check_source(config, at, path, ("file", "environment", "content_inline"))
        return config

    def to_compose(self, project: str) -> dict[str, Any]:
        out = _source(self, _common(self, project))
        if self.content_inline is not None:
            # Inline configuration text is not secret; Compose prints it too.
            out["content"] = self.content_inline
        return _finish(self, out)


Definition = VolumeDef | NetworkDef | SecretDef | ConfigDef


def default_name(project: str, key: str, external: bool) -> str:
    """compose-go's setNameFromKey: an external object is named by its key, anything else
    "<project>_<key>"."""
    return key if external else f"{project}_{key}"


def _common(d: Definition, project: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": d.external_name or default_name(project, d.name, d.external)}
    if d.external:
        out["external"] = True
    if d.labels:
        out["labels"] = dict(d.labels)
    return out


def _finish(d: Definition, out: dict[str, Any]) -> dict[str, Any]:
    out.update(d.extra)
    out.update(d.extensions)
    return dict(sorted(out.items()))


def _parse_common(key: str, body: dict[str, Any], project: str, at: Locator, path: KeyPath
                  ) -> dict[str, Any]:
    """name, external (bool, or the legacy {name: ...}), labels, x-* keys."""
    external_raw = body.get("external")
    external = False
    name = opt_str(body.get("name"), at, (*path, "name"))
    if isinstance(external_raw, dict):
        external = True
        legacy = opt_str(external_raw.get("name"), at, (*path, "external", "name"))
        if legacy is not None:
            if name is not None and name != legacy:
                raise fail(at, (*path, "external", "name"),
                           "cannot use both external.name (deprecated) and name",
                           hint="keep only name:")
            name = legacy
    elif external_raw is not None:
        external = expect_bool(external_raw, at, (*path, "external"))
    if name == default_name(project, key, external):
        name = None  # the name Compose gives anyway: keeps parse(to_compose()) stable
    return {
        "name": key,
        "external": external,
        "external_name": name,
        "labels": str_mapping(body.get("labels"), at, (*path, "labels")),
        "extensions": {k: body[k] for k in sorted(body) if k.startswith("x-")},
    }


def _rest(body: dict[str, Any], typed: frozenset[str]) -> dict[str, Any]:
    return {k: body[k] for k in sorted(body)
            if k not in typed and k not in _COMMON and not k.startswith("x-")}


def _parse_source(body: dict[str, Any], at: Locator, path: KeyPath, base_dir: str
                  ) -> dict[str, Any]:
    """Where a secret's or config's content comes from: ``file`` (made absolute) or
    ``environment`` (a variable's name)."""
    file = opt_str(body.get("file"), at, (*path, "file"))
    return {
        "file": None if file is None else resolve_path(base_dir, file),
        "environment": opt_str(body.get("environment"), at, (*path, "environment")),
    }


def _source(d: SecretDef | ConfigDef, out: dict[str, Any]) -> dict[str, Any]:
    if d.file is not None:
        out["file"] = d.file
    if d.environment is not None:
        out["environment"] = d.environment
    return out


def _check_source(d: SecretDef | ConfigDef, at: Locator, path: KeyPath,
                  sources: tuple[str, ...]) -> None:
    given = [s for s in sources if getattr(d, s) is not None]
    names = " or ".join(s.replace("content_inline", "content") for s in sources)
    if len(given) > 1:
        raise fail(at, path, f"give only one of {names}")
    if not given and not d.external and "driver" not in d.extra:
        raise fail(at, path, f"needs {names}, or external: true",
                   hint="for example file: ./secret.txt")


_TYPES: dict[str, type[Definition]] = {
    "volumes": VolumeDef,
    "networks": NetworkDef,
    "secrets": SecretDef,
    "configs": ConfigDef,
}


def _parse_one(definition: type[Definition], key: str, value: object, project: str,
               at: Locator, path: KeyPath, base_dir: str) -> Definition:
    body = expect_mapping(value if value is not None else {}, at, path)
    return definition.parse(key, body, project, at, path, base_dir)


def parse_section(section: str, raw: object, project: str, at: Locator,
                  base_dir: Callable[[KeyPath], str]) -> dict[str, Any]:
    """One top-level section; a null entry ("data:") is a definition with defaults."""
    if raw is None:
        return {}
    body = expect_mapping(raw, at, (section,))
    problems = Problems()
    out: dict[str, Any] = {}
    definition = _TYPES[section]
    for key, value in body.items():
        path: KeyPath = (section, key)
        got = problems.guard(_parse_one, definition, key, value, project, at, path, base_dir(path))
        if got is not None:
            out[key] = got
    problems.raise_if_any()
    return out


def check_references(services: dict[str, Service], sections: dict[str, dict[str, Any]],
                     at: Locator, raw: dict[str, Any]) -> Iterator[ComposeError]:
    """Services may only use declared networks, secrets and configs (compose-go's
    checkConsistency). An undeclared volume source is a named volume, not an error.
    ``raw`` is the services mapping as written, to point at the list item that names it."""
    for name, service in services.items():
        written = raw.get(name, {}).get("networks") if isinstance(raw.get(name), dict) else None
        for network in service.networks:
            if network != "default" and network not in sections["networks"]:
                where: str | int = network
                if isinstance(written, list) and network in written:
                    where = written.index(network)
                yield fail(at, ("services", name, "networks", where),
                           f"network {network!r} is not declared",
                           hint="declare it under the top-level networks:")
        for kind in ("secrets", "configs"):
            for i, ref in enumerate(getattr(service, kind)):
                if ref.source not in sections[kind]:
                    yield fail(at, ("services", name, kind, i),
                               f"{kind[:-1]} {ref.source!r} is not declared",
                               hint=f"declare it under the top-level {kind}:")
