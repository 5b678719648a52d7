"""A whole resolved Compose project: services plus the top-level volumes, networks, secrets and
configs they refer to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath, SourceLocation
from kompy.model.base import Locator, NullLocator
from kompy.model.service import Service


@dataclass(frozen=True)
class VolumeDef:
    name: str  # the key in the Compose file
    external: bool = False
    external_name: str | None = None  # `name:` of the volume in the engine, when set
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkDef:
    name: str
    external: bool = False
    external_name: str | None = None
    driver: str | None = None
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ConfigDef:
    name: str
    file: str | None = None
    environment: str | None = None
    content_inline: str | None = None  # the `content:` key
    external: bool = False
    external_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None  # resolved from file / environment / content
    extensions: dict[str, Any] = field(default_factory=dict)


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
