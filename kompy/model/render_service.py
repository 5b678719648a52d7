"""Render a :class:`Service` as the long form `docker compose config` prints (keys sorted).

Empty and default values are left out, as compose-go's ``omitempty`` does, except where the
empty value means something: an explicitly empty ``command: []`` is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kompy.model.deploy import cpus_to_compose
from kompy.model.service import Service


def _same(value: Any) -> Any:
    return value


def _list(value: Any) -> Any:
    return list(value)


def _dict(value: Any) -> Any:
    return dict(value)


def _value(value: Any) -> Any:
    return value.to_compose()


def _values(value: Any) -> Any:
    return [item.to_compose() for item in value]


def _mapping_of_values(value: Any) -> Any:
    return {key: item.to_compose() for key, item in value.items()}


def _ulimits(value: Any) -> Any:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}


# Service field -> (Compose key, renderer). Fields whose value is falsy are left out, except
# command/entrypoint (None is left out, () is kept) and init (False is kept).
_RENDER: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("annotations", "annotations", _dict),
    ("build", "build", _value),
    ("cap_add", "cap_add", _list),
    ("cap_drop", "cap_drop", _list),
    ("configs", "configs", _values),
    ("container_name", "container_name", _same),
    ("cpu_shares", "cpu_shares", _same),
    ("cpus", "cpus", cpus_to_compose),
    ("depends_on", "depends_on", _mapping_of_values),
    ("deploy", "deploy", _value),
    ("develop", "develop", _value),
    ("devices", "devices", _list),
    ("dns", "dns", _list),
    ("dns_opt", "dns_opt", _list),
    ("dns_search", "dns_search", _list),
    ("domainname", "domainname", _same),
    ("env_files", "env_file", _values),
    ("expose", "expose", _list),
    ("extra_hosts", "extra_hosts", _list),
    ("group_add", "group_add", _list),
    ("healthcheck", "healthcheck", _value),
    ("hostname", "hostname", _same),
    ("image", "image", _same),
    ("ipc", "ipc", _same),
    ("labels", "labels", _dict),
    ("logging", "logging", _dict),
    ("mem_limit", "mem_limit", _value),
    ("mem_reservation", "mem_reservation", _value),
    ("memswap_limit", "memswap_limit", _value),
    ("network_mode", "network_mode", _same),
    ("networks", "networks", _mapping_of_values),
    ("pid", "pid", _same),
    ("pids_limit", "pids_limit", _same),
    ("platform", "platform", _same),
    ("ports", "ports", _values),
    ("privileged", "privileged", _same),
    ("profiles", "profiles", _list),
    ("pull_policy", "pull_policy", _same),
    ("read_only", "read_only", _same),
    ("restart", "restart", _same),
    ("scale", "scale", _same),
    ("secrets", "secrets", _values),
    ("security_opt", "security_opt", _list),
    ("shm_size", "shm_size", _value),
    ("stdin_open", "stdin_open", _same),
    ("stop_grace_period", "stop_grace_period", _value),
    ("stop_signal", "stop_signal", _same),
    ("sysctls", "sysctls", _dict),
    ("tmpfs", "tmpfs", _list),
    ("tty", "tty", _same),
    ("ulimits", "ulimits", _ulimits),
    ("user", "user", _same),
    ("volumes", "volumes", _values),
    ("working_dir", "working_dir", _same),
]


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


def render_service(service: Service) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, key, render in _RENDER:
        value = getattr(service, attr)
        if value or (attr == "scale" and value is not None):
            out[key] = render(value)
    if service.command is not None:
        out["command"] = list(service.command)
    if service.entrypoint is not None:
        out["entrypoint"] = list(service.entrypoint)
    if service.init is not None:
        out["init"] = service.init
    environment = merged_environment(service)
    if environment:
        out["environment"] = environment
    out.update(service.other)
    out.update(service.extensions)
    return dict(sorted(out.items()))
