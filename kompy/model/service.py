"""A Compose service and the value types of its keys, in their long (normalised) form.

Field names follow the Compose Specification's long syntax, so that ``to_compose()`` is a
straight rendering and a reader of the spec finds each key where they expect it.
Mappings are plain dicts (kept sorted by key) and sequences are tuples; treat both as
read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.model.values import ByteSize, Duration

# Strings in environment mappings may be None: "KEY" without "=" whose value the process
# environment did not provide (compose-spec "environment").
EnvMapping = dict[str, str | None]


@dataclass(frozen=True)
class Build:
    context: str  # absolute path, or a URL (git context)
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: EnvMapping = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cache_from: tuple[str, ...] = ()
    network: str | None = None
    platforms: tuple[str, ...] = ()
    additional_contexts: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other long-form keys, as written


@dataclass(frozen=True)
class PortMapping:
    """One container port; a short-syntax range ("8000-8002:80-82") becomes several."""

    target: int
    published: str | None = None  # "8080" or a host range "8080-8090"; None: not published
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True)
class ServiceVolume:
    type: str  # "bind" | "volume" | "tmpfs" | "npipe" | "cluster" | "image"
    target: str
    source: str | None = None  # bind: absolute host path; volume: volume name (None: anonymous)
    read_only: bool = False
    consistency: str | None = None
    bind_propagation: str | None = None
    bind_create_host_path: bool = True
    bind_selinux: str | None = None
    volume_nocopy: bool = False
    volume_subpath: str | None = None
    tmpfs_size: ByteSize | None = None
    tmpfs_mode: int | None = None


@dataclass(frozen=True)
class Dependency:
    condition: str = "service_started"  # service_started|service_healthy|...completed_successfully
    required: bool = True
    restart: bool = False


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...] | None = None  # ("CMD", ...), ("CMD-SHELL", "..."), ("NONE",)
    interval: Duration | None = None
    timeout: Duration | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    retries: int | None = None
    disable: bool = False


@dataclass(frozen=True)
class ResourceSpec:
    cpus: float | None = None
    memory: ByteSize | None = None
    pids: int | None = None


@dataclass(frozen=True)
class Resources:
    limits: ResourceSpec = field(default_factory=ResourceSpec)
    reservations: ResourceSpec = field(default_factory=ResourceSpec)


@dataclass(frozen=True)
class RestartPolicy:
    condition: str = "any"  # none | on-failure | any
    delay: Duration | None = None
    max_attempts: int | None = None
    window: Duration | None = None


@dataclass(frozen=True)
class UpdateConfig:
    parallelism: int | None = None
    delay: Duration | None = None
    failure_action: str | None = None
    monitor: Duration | None = None
    max_failure_ratio: float | None = None
    order: str | None = None  # stop-first | start-first


@dataclass(frozen=True)
class Deploy:
    mode: str = "replicated"  # replicated | global | replicated-job | global-job
    replicas: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    restart_policy: RestartPolicy | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    placement_constraints: tuple[str, ...] = ()
    placement_preferences: tuple[str, ...] = ()  # spread expressions
    endpoint_mode: str | None = None


@dataclass(frozen=True)
class ServiceFileRef:
    """A service's use of a top-level secret or config (compose-spec "secrets", "configs")."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class ServiceNetwork:
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class EnvFile:
    path: str  # absolute
    required: bool = True
    format: str | None = None
    # The file's variables, read by the loader (None when the file is optional and absent).
    values: EnvMapping | None = None


@dataclass(frozen=True)
class WatchRule:
    path: str  # absolute path on the host
    action: str  # sync | rebuild | sync+restart | sync+exec | restart
    target: str | None = None  # path in the container (sync actions)
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exec_command: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Develop:
    watch: tuple[WatchRule, ...] = ()


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
    ulimits: dict[str, Any] = field(default_factory=dict)
    devices: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    platform: str | None = None
    pull_policy: str | None = None
    logging: dict[str, Any] | None = None
    develop: Develop | None = None
    extensions: dict[str, Any] = field(default_factory=dict)  # x-* keys, as written
    # Keys this model does not type, in long form as written (rendered back unchanged).
    other: dict[str, Any] = field(default_factory=dict)
