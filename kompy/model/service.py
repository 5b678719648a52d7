"""A Compose service: one field per Compose key, in its long (normalised) form.

Each field that is a Compose key says how the key is read and written back, with
:func:`kompy.model.keys.key`: the parser of its value type (which reads every syntax of the
key) and the renderer of the long form. Adding a key is one field here, plus its value type
in the module of its kind: ports, volumes (and tmpfs), build, deploy (and cpus), refs
(depends_on, secrets, configs, networks, env_file), lifecycle (command, healthcheck,
restart, post_start/pre_stop hooks, develop), runtime (extra_hosts, ulimits, devices,
logging, pull_policy), values (durations, byte sizes) and scalars (strings, lists, mappings).

Field names follow the Compose Specification's long syntax, so a reader of the spec finds
each key where they expect it. Mappings are plain dicts (kept sorted by key) and sequences
are tuples; treat both as read-only. Keys the model does not type are kept in ``other`` as
written, x-* keys in ``extensions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kompy.errors import ComposeError, KeyPath, MultiError
from kompy.model.base import Locator, Problems, build_frozen, fail
from kompy.model.build import Build
from kompy.model.deploy import (
    Deploy,
    Resources,
    ResourceSpec,
    RestartPolicy,
    UpdateConfig,
    cpus_to_compose,
    parse_cpus,
)
from kompy.model.keys import (
    as_dict,
    as_list,
    compose_keys,
    each_long_form,
    key,
    long_form,
    long_form_by_name,
    optional,
)
from kompy.model.lifecycle import (
    Develop,
    Healthcheck,
    Hook,
    WatchRule,
    parse_command,
    parse_hooks,
    parse_restart,
)
from kompy.model.ports import PortMapping, parse_expose, parse_ports
from kompy.model.refs import (
    Dependency,
    EnvFile,
    ServiceFileRef,
    ServiceNetwork,
    parse_depends_on,
    parse_env_files,
    parse_file_refs,
    parse_service_networks,
)
from kompy.model.runtime import (
    parse_devices,
    parse_extra_hosts,
    parse_logging,
    parse_pull_policy,
    parse_ulimits,
    render_ulimits,
)
from kompy.model.scalars import (
    EnvMapping,
    count,
    env_mapping,
    expect_bool,
    expect_int,
    expect_str,
    flag,
    kind,
    str_list,
    str_mapping,
)
from kompy.model.values import ByteSize, Duration
from kompy.model.volumes import ServiceVolume, parse_tmpfs, parse_volumes

__all__ = [
    "Build", "ByteSize", "Deploy", "Dependency", "Develop", "Duration", "EnvFile", "EnvMapping",
    "Healthcheck", "Hook", "PortMapping", "ResourceSpec", "Resources", "RestartPolicy", "Service",
    "ServiceFileRef", "ServiceNetwork", "ServiceVolume", "UpdateConfig", "WatchRule",
]

_text = optional(expect_str)
_strings = partial(str_list, single=False)  # a list only; str_list also takes one string
_bytes = optional(ByteSize.parse)


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None = key(_text)
    build: Build | None = key(optional(Build.parse), long_form, paths=True)
    # None: the image's CMD; (): explicitly empty
    command: tuple[str, ...] | None = key(parse_command, as_list, keep_none=True)
    entrypoint: tuple[str, ...] | None = key(parse_command, as_list, keep_none=True)
    working_dir: str | None = key(_text)
    user: str | None = key(_text)
    hostname: str | None = key(_text)
    domainname: str | None = key(_text)
    container_name: str | None = key(_text)
    # From `environment` only; env_file values stay on their EnvFile.
    environment: EnvMapping = key(env_mapping, as_dict, factory=dict)
    env_files: tuple[EnvFile, ...] = key(parse_env_files, each_long_form, default=(),
                                         name="env_file", paths=True)
    ports: tuple[PortMapping, ...] = key(parse_ports, each_long_form, default=())
    # "80", "8000-8010", "53/udp"
    expose: tuple[str, ...] = key(parse_expose, as_list, default=())
    volumes: tuple[ServiceVolume, ...] = key(parse_volumes, each_long_form, default=(),
                                             paths=True)
    # Service-level `tmpfs:` targets ("/run" or "/run:size=64m").
    tmpfs: tuple[str, ...] = key(parse_tmpfs, as_list, default=())
    depends_on: dict[str, Dependency] = key(parse_depends_on, long_form_by_name, factory=dict)
    healthcheck: Healthcheck | None = key(optional(Healthcheck.parse), long_form)
    # run in order with `docker exec` after the container starts / before it stops
    post_start: tuple[Hook, ...] = key(parse_hooks, each_long_form, default=())
    pre_stop: tuple[Hook, ...] = key(parse_hooks, each_long_form, default=())
    # no | always | on-failure[:N] | unless-stopped
    restart: str | None = key(parse_restart)
    deploy: Deploy | None = key(optional(Deploy.parse), long_form)
    scale: int | None = key(optional(count), keep_none=True)
    labels: dict[str, str] = key(str_mapping, as_dict, factory=dict)
    annotations: dict[str, str] = key(str_mapping, as_dict, factory=dict)
    secrets: tuple[ServiceFileRef, ...] = key(parse_file_refs, each_long_form, default=())
    configs: tuple[ServiceFileRef, ...] = key(parse_file_refs, each_long_form, default=())
    networks: dict[str, ServiceNetwork] = key(parse_service_networks, long_form_by_name,
                                              factory=dict)
    network_mode: str | None = key(_text)
    pid: str | None = key(_text)
    ipc: str | None = key(_text)
    cap_add: tuple[str, ...] = key(_strings, as_list, default=())
    cap_drop: tuple[str, ...] = key(_strings, as_list, default=())
    privileged: bool = key(flag, default=False)
    read_only: bool = key(flag, default=False)
    security_opt: tuple[str, ...] = key(_strings, as_list, default=())
    sysctls: dict[str, str] = key(str_mapping, as_dict, factory=dict)
    group_add: tuple[str, ...] = key(_strings, as_list, default=())
    init: bool | None = key(optional(expect_bool), keep_none=True)
    stdin_open: bool = key(flag, default=False)
    tty: bool = key(flag, default=False)
    stop_grace_period: Duration | None = key(optional(Duration.parse), long_form)
    stop_signal: str | None = key(_text)
    # "host=ip" entries, sorted as Compose renders them
    extra_hosts: tuple[str, ...] = key(parse_extra_hosts, as_list, default=())
    dns: tuple[str, ...] = key(str_list, as_list, default=())
    dns_search: tuple[str, ...] = key(str_list, as_list, default=())
    dns_opt: tuple[str, ...] = key(_strings, as_list, default=())
    mem_limit: ByteSize | None = key(_bytes, long_form)
    mem_reservation: ByteSize | None = key(_bytes, long_form)
    memswap_limit: ByteSize | None = key(_bytes, long_form)
    shm_size: ByteSize | None = key(_bytes, long_form)
    cpus: float | None = key(optional(parse_cpus), cpus_to_compose)
    cpu_shares: int | None = key(optional(expect_int))
    pids_limit: int | None = key(optional(expect_int))
    # name -> int | {"soft", "hard"}
    ulimits: dict[str, Any] = key(parse_ulimits, render_ulimits, factory=dict)
    devices: tuple[str, ...] = key(parse_devices, as_list, default=())
    profiles: tuple[str, ...] = key(_strings, as_list, default=())
    platform: str | None = key(_text)
    pull_policy: str | None = key(parse_pull_policy)
    logging: dict[str, Any] | None = key(parse_logging, as_dict)
    develop: Develop | None = key(optional(Develop.parse), long_form, paths=True)
    extensions: dict[str, Any] = field(default_factory=dict)  # x-* keys, as written
    # Keys this model does not type, in long form as written (rendered back unchanged).
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, name: str, raw: object, at: Locator, path: KeyPath, base_dir: str) -> Service:
        """Every short syntax of every key to the long form; all problems raised at once.

        After parsing, the implicit parts of the Compose model are added as compose-go's
        ``Normalize`` does: a service without networks (and without network_mode) joins
        "default"; links, ``service:`` namespaces and volumes_from imply depends_on;
        pull_policy ``if_not_present`` is ``missing``."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise fail(at, path, f"a service is a mapping, got {kind(raw)}")
        problems = Problems()
        values: dict[str, Any] = {}
        extensions: dict[str, Any] = {}
        other: dict[str, Any] = {}
        for written, value in raw.items():
            spec = KEYS.get(written)
            if spec is not None:
                where = (*path, written)
                try:
                    values[spec.field] = (spec.parse(value, at, where, base_dir) if spec.paths
                                          else spec.parse(value, at, where))
                except (ComposeError, MultiError) as e:
                    problems.add(e)
            elif written.startswith("x-"):
                extensions[written] = value
            else:
                other[written] = value
        deploy = values.get("deploy")
        scale = values.get("scale")
        if scale is not None and deploy is not None and deploy.replicas not in (None, scale):
            problems.add(fail(at, (*path, "scale"),
                              f"scale {scale} differs from deploy.replicas {deploy.replicas}",
                              hint="set only one of them"))
        problems.raise_if_any()
        _normalize(values, other)
        values["name"] = name
        values["extensions"] = dict(sorted(extensions.items()))
        values["other"] = dict(sorted(other.items()))
        return build_frozen(cls, values)

    def to_compose(self) -> dict[str, Any]:
        """The long form `docker compose config` prints for this service, keys sorted.

        Empty and default values are left out, as compose-go's ``omitempty`` does, except
        where the empty value means something (``ComposeKey.keep_none``)."""
        out: dict[str, Any] = {}
        state = self.__dict__
        for spec in KEYS.values():  # in key order: the mapping needs no sort
            value = state[spec.field]
            if value if not spec.keep_none else value is not None:
                out[spec.name] = spec.render(value)
        needs_sort = False
        if any(f.values for f in self.env_files):
            merged = merged_environment(self)
            needs_sort = "environment" not in out and bool(merged)
            if merged:
                out["environment"] = merged  # an existing key keeps its place
        if self.other or self.extensions:
            out.update(self.other)
            out.update(self.extensions)
            needs_sort = True
        return dict(sorted(out.items())) if needs_sort else out


# Compose key -> how it is read and rendered, from the fields of Service.
KEYS = compose_keys(Service)


def merged_environment(service: Service) -> dict[str, str | None]:
    """What compose-go prints as ``environment``: the env_file variables (in file order),
    overridden by the ``environment`` key (compose-spec "env_file")."""
    if not any(f.values for f in service.env_files):
        return dict(service.environment)
    merged: dict[str, str | None] = {}
    for env_file in service.env_files:
        if env_file.values:
            merged.update(env_file.values)
    merged.update(service.environment)
    return dict(sorted(merged.items()))


def _normalize(values: dict[str, Any], other: dict[str, Any]) -> None:
    """The implicit parts of the Compose model (compose-go loader/normalize.go)."""
    if not values.get("networks") and not values.get("network_mode"):
        values["networks"] = {"default": ServiceNetwork()}
    implied: dict[str, Dependency] = {}
    for link in other.get("links") or ():
        implied.setdefault(str(link).split(":")[0], Dependency(restart=True))
    for namespace in (values.get("network_mode"), values.get("ipc"), values.get("pid"),
                      other.get("uts"), other.get("cgroup")):
        if isinstance(namespace, str) and namespace.startswith("service:"):
            implied.setdefault(namespace[len("service:"):], Dependency(restart=True))
    for source in other.get("volumes_from") or ():
        text = str(source)
        if not text.startswith("container:"):
            implied.setdefault(text.split(":")[0], Dependency())
    if implied:
        deps = dict(values.get("depends_on") or {})
        for service, dep in implied.items():
            deps.setdefault(service, dep)
        values["depends_on"] = dict(sorted(deps.items()))
