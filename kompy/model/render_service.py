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


# Service field -> (Compose key, renderer, keep when not None). In Compose key order, so the
# rendered mapping needs no sort. Falsy values are left out, except where "not None" matters:
# an explicitly empty command, init: false, scale: 0.
_RENDER: list[tuple[str, str, Callable[[Any], Any], bool]] = [
    ("annotations", "annotations", _dict, False),
    ("build", "build", _value, False),
    ("cap_add", "cap_add", _list, False),
    ("cap_drop", "cap_drop", _list, False),
    ("command", "command", _list, True),
    ("configs", "configs", _values, False),
    ("container_name", "container_name", _same, False),
    ("cpu_shares", "cpu_shares", _same, False),
    ("cpus", "cpus", cpus_to_compose, False),
    ("depends_on", "depends_on", _mapping_of_values, False),
    ("deploy", "deploy", _value, False),
    ("develop", "develop", _value, False),
    ("devices", "devices", _list, False),
    ("dns", "dns", _list, False),
    ("dns_opt", "dns_opt", _list, False),
    ("dns_search", "dns_search", _list, False),
    ("domainname", "domainname", _same, False),
    ("entrypoint", "entrypoint", _list, True),
    ("env_files", "env_file", _values, False),
    ("environment", "environment", _dict, False),
    ("expose", "expose", _list, False),
    ("extra_hosts", "extra_hosts", _list, False),
    ("group_add", "group_add", _list, False),
    ("healthcheck", "healthcheck", _value, False),
    ("hostname", "hostname", _same, False),
    ("image", "image", _same, False),
    ("init", "init", _same, True),
    ("ipc", "ipc", _same, False),
    ("labels", "labels", _dict, False),
    ("logging", "logging", _dict, False),
    ("mem_limit", "mem_limit", _value, False),
    ("mem_reservation", "mem_reservation", _value, False),
    ("memswap_limit", "memswap_limit", _value, False),
    ("network_mode", "network_mode", _same, False),
    ("networks", "networks", _mapping_of_values, False),
    ("pid", "pid", _same, False),
    ("pids_limit", "pids_limit", _same, False),
    ("platform", "platform", _same, False),
    ("ports", "ports", _values, False),
    ("privileged", "privileged", _same, False),
    ("profiles", "profiles", _list, False),
    ("pull_policy", "pull_policy", _same, False),
    ("read_only", "read_only", _same, False),
    ("restart", "restart", _same, False),
    ("scale", "scale", _same, True),
    ("secrets", "secrets", _values, False),
    ("security_opt", "security_opt", _list, False),
    ("shm_size", "shm_size", _value, False),
    ("stdin_open", "stdin_open", _same, False),
    ("stop_grace_period", "stop_grace_period", _value, False),
    ("stop_signal", "stop_signal", _same, False),
    ("sysctls", "sysctls", _dict, False),
    ("tmpfs", "tmpfs", _list, False),
    ("tty", "tty", _same, False),
    ("ulimits", "ulimits", _ulimits, False),
    ("user", "user", _same, False),
    ("volumes", "volumes", _values, False),
    ("working_dir", "working_dir", _same, False),
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
    state = service.__dict__
    for attr, key, render, keep_none in _RENDER:
        value = state[attr]
        if value if not keep_none else value is not None:
            out[key] = render(value)
    needs_sort = False
    if any(f.values for f in service.env_files):
        merged = merged_environment(service)
        needs_sort = "environment" not in out and bool(merged)
        if merged:
            out["environment"] = merged  # an existing key keeps its place
    if service.other or service.extensions:
        out.update(service.other)
        out.update(service.extensions)
        needs_sort = True
    return dict(sorted(out.items())) if needs_sort else out
