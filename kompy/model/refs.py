"""A service's references to other things: depends_on, secrets/configs, networks, env_file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, Problems, fail, parse_items
from kompy.model.scalars import (
    EnvMapping,
    check_keys,
    expect_bool,
    expect_int,
    expect_mapping,
    expect_str,
    kind,
    opt_str,
    parse_mode,
    resolve_path,
    str_list,
)

CONDITIONS = frozenset({"service_started", "service_healthy", "service_completed_successfully"})


@dataclass(frozen=True, slots=True)
class Dependency:
    condition: str = "service_started"  # service_started|service_healthy|...completed_successfully
    required: bool = True
    restart: bool = False

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> Dependency:
        body = expect_mapping(raw if raw is not None else {}, at, path)
        check_keys(body, frozenset({"condition", "required", "restart"}), at, path)
        condition = expect_str(body.get("condition", "service_started"), at, (*path, "condition"))
        if condition not in CONDITIONS:
            raise fail(at, (*path, "condition"), f"unknown condition {condition!r}",
                       hint="use " + ", ".join(sorted(CONDITIONS)))
        return cls(
            condition=condition,
            required=expect_bool(body.get("required", True), at, (*path, "required")),
            restart=expect_bool(body.get("restart", False), at, (*path, "restart")),
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.condition, "required": self.required}
        if self.restart:
            out["restart"] = True
        return out


def parse_depends_on(raw: object, at: Locator, path: KeyPath) -> dict[str, Dependency]:
    """A list of names (each: started, required) or the long mapping (compose-spec
    "depends_on")."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        out: dict[str, Dependency] = {}
        for i, item in enumerate(raw):
            name = expect_str(item, at, (*path, i), scalars=False)
            if name in out:
                raise fail(at, (*path, i), f"{name!r} is listed twice")
            out[name] = Dependency()
        return dict(sorted(out.items()))
    if isinstance(raw, dict):
        problems = Problems()
        deps: dict[str, Dependency] = {}
        for name, value in raw.items():
            dep = problems.guard(Dependency.parse, value, at, (*path, name))
            if dep is not None:
                deps[str(name)] = dep
        problems.raise_if_any()
        return dict(sorted(deps.items()))
    raise fail(at, path, f"expected a list of services or a mapping, got {kind(raw)}")


@dataclass(frozen=True, slots=True)
class ServiceFileRef:
    """A service's use of a top-level secret or config (compose-spec "secrets", "configs")."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> ServiceFileRef:
        if isinstance(raw, str):
            return cls(source=raw)
        if not isinstance(raw, dict):
            raise fail(at, path, f"expected a name or a mapping, got {kind(raw)}")
        check_keys(raw, frozenset({"source", "target", "uid", "gid", "mode"}), at, path)
        if not raw.get("source"):
            raise fail(at, path, "a secret or config reference needs a source")
        mode = raw.get("mode")
        return cls(
            source=expect_str(raw["source"], at, (*path, "source")),
            target=opt_str(raw.get("target"), at, (*path, "target")),
            uid=opt_str(raw.get("uid"), at, (*path, "uid")),
            gid=opt_str(raw.get("gid"), at, (*path, "gid")),
            mode=parse_mode(mode, at, (*path, "mode")) if mode is not None else None,
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("gid", "mode", "source", "target", "uid"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def parse_file_refs(raw: object, at: Locator, path: KeyPath) -> tuple[ServiceFileRef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail(at, path, f"expected a list, got {kind(raw)}")
    return parse_items(ServiceFileRef.parse, raw, at, path)


_NETWORK_TYPED = frozenset({"aliases", "ipv4_address", "ipv6_address", "priority"})


@dataclass(frozen=True, slots=True)
class ServiceNetwork:
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    priority: int | None = None
    # mac_address, link_local_ips, driver_opts, gw_priority, interface_name...: as written.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> ServiceNetwork:
        if raw is None:
            return cls()
        body = expect_mapping(raw, at, path)
        priority = body.get("priority")
        return cls(
            aliases=str_list(body.get("aliases"), at, (*path, "aliases"), single=False),
            ipv4_address=opt_str(body.get("ipv4_address"), at, (*path, "ipv4_address")),
            ipv6_address=opt_str(body.get("ipv6_address"), at, (*path, "ipv6_address")),
            priority=expect_int(priority, at, (*path, "priority"))
            if priority is not None else None,
            extra={k: body[k] for k in sorted(body) if k not in _NETWORK_TYPED},
        )

    def to_compose(self) -> dict[str, Any] | None:
        """None for an attachment without settings, as compose-go prints it (``default:``)."""
        if not (self.aliases or self.extra or self.ipv4_address is not None
                or self.ipv6_address is not None or self.priority is not None):
            return None
        out: dict[str, Any] = dict(self.extra)
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.ipv4_address is not None:
            out["ipv4_address"] = self.ipv4_address
        if self.ipv6_address is not None:
            out["ipv6_address"] = self.ipv6_address
        if self.priority is not None:
            out["priority"] = self.priority
        return dict(sorted(out.items()))


def parse_service_networks(raw: object, at: Locator, path: KeyPath) -> dict[str, ServiceNetwork]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        names = str_list(raw, at, path, single=False)
        return {name: ServiceNetwork() for name in sorted(names)}
    if isinstance(raw, dict):
        problems = Problems()
        out: dict[str, ServiceNetwork] = {}
        for name, value in raw.items():
            net = problems.guard(ServiceNetwork.parse, value, at, (*path, name))
            if net is not None:
                out[str(name)] = net
        problems.raise_if_any()
        return dict(sorted(out.items()))
    raise fail(at, path, f"expected a list of networks or a mapping, got {kind(raw)}")


@dataclass(frozen=True, slots=True)
class EnvFile:
    path: str  # absolute
    required: bool = True
    format: str | None = None
    # The file's variables, read by the loader (None when the file is optional and absent).
    values: EnvMapping | None = None

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath, base_dir: str) -> EnvFile:
        if isinstance(raw, str):
            return cls(path=resolve_path(base_dir, raw))
        if not isinstance(raw, dict):
            raise fail(at, path, f"expected a file path or a mapping, got {kind(raw)}")
        check_keys(raw, frozenset({"path", "required", "format"}), at, path)
        if not raw.get("path"):
            raise fail(at, path, "an env_file entry needs a path")
        return cls(
            path=resolve_path(base_dir, expect_str(raw["path"], at, (*path, "path"))),
            required=expect_bool(raw.get("required", True), at, (*path, "required")),
            format=opt_str(raw.get("format"), at, (*path, "format")),
        )

    def to_compose(self) -> str | dict[str, Any]:
        """compose-go prints a required file without format as its path alone."""
        if self.required and self.format is None:
            return self.path
        out: dict[str, Any] = {"path": self.path}
        if not self.required:
            out["required"] = False
        if self.format is not None:
            out["format"] = self.format
        return dict(sorted(out.items()))


def parse_env_files(raw: object, at: Locator, path: KeyPath, base_dir: str
                    ) -> tuple[EnvFile, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (EnvFile.parse(raw, at, path, base_dir),)
    if not isinstance(raw, list):
        raise fail(at, path, f"expected a file path or a list, got {kind(raw)}")
    return parse_items(EnvFile.parse, raw, at, path, base_dir)
