"""A Compose service and the value types of its keys, in their long (normalised) form.

Field names follow the Compose Specification's long syntax, so that ``to_compose()`` is a
straight rendering and a reader of the spec finds each key where they expect it.
Mappings are plain dicts (kept sorted by key) and sequences are tuples; treat both as
read-only. The value types live in small modules (ports, volumes, build, deploy, refs,
lifecycle) and are re-exported here; parsing a whole service is in ``parse_service``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator
from kompy.model.build import Build, EnvMapping
from kompy.model.deploy import Deploy, Resources, ResourceSpec, RestartPolicy, UpdateConfig
from kompy.model.lifecycle import Develop, Healthcheck, WatchRule
from kompy.model.ports import PortMapping
from kompy.model.refs import Dependency, EnvFile, ServiceFileRef, ServiceNetwork
from kompy.model.values import ByteSize, Duration
from kompy.model.volumes import ServiceVolume

__all__ = [
    "Build", "ByteSize", "Deploy", "Dependency", "Develop", "Duration", "EnvFile", "EnvMapping",
    "Healthcheck", "PortMapping", "ResourceSpec", "Resources", "RestartPolicy", "Service",
    "ServiceFileRef", "ServiceNetwork", "ServiceVolume", "UpdateConfig", "WatchRule",
]


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = None  # None: the image's CMD; () : explicitly empty
    entrypoint: tuple[str, ...] | None = None
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    container_name: str | None = None
    environment: EnvMapping = field(default_factory=dict)  # from `environment` only
    env_files: tuple[EnvFile, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    expose: tuple[str, ...] = ()  # "80", "8000-8010", "53/udp"
    volumes: tuple[ServiceVolume, ...] = ()
    tmpfs: tuple[str, ...] = ()  # service-level `tmpfs:` targets ("/run" or "/run:size=64m")
    depends_on: dict[str, Dependency] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str | None = None  # no | always | on-failure[:N] | unless-stopped
    deploy: Deploy | None = None
    scale: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    secrets: tuple[ServiceFileRef, ...] = ()
    configs: tuple[ServiceFileRef, ...] = ()
    networks: dict[str, ServiceNetwork] = field(default_factory=dict)
    network_mode: str | None = None
    pid: str | None = None
    ipc: str | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    read_only: bool = False
    security_opt: tuple[str, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)
    group_add: tuple[str, ...] = ()
    init: bool | None = None
    stdin_open: bool = False
    tty: bool = False
    stop_grace_period: Duration | None = None
    stop_signal: str | None = None
    extra_hosts: tuple[str, ...] = ()  # "host=ip" entries, sorted as Compose renders them
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    mem_limit: ByteSize | None = None
    mem_reservation: ByteSize | None = None
    memswap_limit: ByteSize | None = None
    shm_size: ByteSize | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None
    ulimits: dict[str, Any] = field(default_factory=dict)  # name -> int | {"soft", "hard"}
    devices: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    platform: str | None = None
    pull_policy: str | None = None
    logging: dict[str, Any] | None = None
    develop: Develop | None = None
    extensions: dict[str, Any] = field(default_factory=dict)  # x-* keys, as written
    # Keys this model does not type, in long form as written (rendered back unchanged).
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, name: str, raw: object, at: Locator, path: KeyPath, base_dir: str) -> Service:
        """Every short syntax of every key to the long form; all problems raised at once."""
        from kompy.model.parse_service import parse_service

        return parse_service(name, raw, at, path, base_dir)

    def to_compose(self) -> dict[str, Any]:
        """The long form `docker compose config` prints for this service, keys sorted."""
        from kompy.model.render_service import render_service

        return render_service(self)
