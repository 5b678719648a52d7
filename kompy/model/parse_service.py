"""Parse one service mapping into a :class:`kompy.model.service.Service`.

Each Compose key has a handler that turns any of its syntaxes into the long form; keys the
model does not type are kept in ``other`` as written, x-* keys in ``extensions``. Problems in
different keys are collected and raised together. After parsing, the implicit parts of the
Compose model are added as compose-go's ``Normalize`` does: a service without networks (and
without network_mode) joins "default"; links, ``service:`` namespaces and volumes_from imply
depends_on; pull_policy ``if_not_present`` is ``missing``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kompy.errors import ComposeError, KeyPath, MultiError
from kompy.model.base import Locator, Problems, build_frozen, fail
from kompy.model.build import Build
from kompy.model.deploy import Deploy
from kompy.model.lifecycle import Develop, Healthcheck, parse_command
from kompy.model.ports import parse_expose, parse_ports
from kompy.model.refs import (
    Dependency,
    ServiceNetwork,
    parse_depends_on,
    parse_env_files,
    parse_file_refs,
    parse_service_networks,
)
from kompy.model.scalars import (
    env_mapping,
    expect_bool,
    expect_float,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
    go_string,
    kind,
    str_list,
    str_mapping,
)
from kompy.model.service import Service
from kompy.model.values import ByteSize, Duration
from kompy.model.volumes import parse_volumes

Handler = Callable[[Any, Locator, KeyPath, str], Any]

_RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")


def _str(raw: Any, at: Locator, path: KeyPath, _: str) -> str | None:
    return None if raw is None else expect_str(raw, at, path)


def _bool(raw: Any, at: Locator, path: KeyPath, _: str) -> bool:
    return False if raw is None else expect_bool(raw, at, path)


def _opt_bool(raw: Any, at: Locator, path: KeyPath, _: str) -> bool | None:
    return None if raw is None else expect_bool(raw, at, path)


def _int(raw: Any, at: Locator, path: KeyPath, _: str) -> int | None:
    return None if raw is None else expect_int(raw, at, path)


def _count(raw: Any, at: Locator, path: KeyPath, _: str) -> int | None:
    return None if raw is None else expect_int(raw, at, path, minimum=0)


def _float(raw: Any, at: Locator, path: KeyPath, _: str) -> float | None:
    if raw is None:
        return None
    value = expect_float(raw, at, path)
    if value < 0:
        raise fail(at, path, f"cannot be negative, got {raw!r}")
    return value


def _bytes(raw: Any, at: Locator, path: KeyPath, _: str) -> ByteSize | None:
    return None if raw is None else ByteSize.parse(raw, at, path)


def _duration(raw: Any, at: Locator, path: KeyPath, _: str) -> Duration | None:
    return None if raw is None else Duration.parse(raw, at, path)


def _list(raw: Any, at: Locator, path: KeyPath, _: str) -> tuple[str, ...]:
    return str_list(raw, at, path, single=False)


def _list_or_one(raw: Any, at: Locator, path: KeyPath, _: str) -> tuple[str, ...]:
    return str_list(raw, at, path)


def _mapping(raw: Any, at: Locator, path: KeyPath, _: str) -> dict[str, str]:
    return str_mapping(raw, at, path)


def _restart(raw: Any, at: Locator, path: KeyPath, _: str) -> str | None:
    if raw is None:
        return None
    value = expect_str(raw, at, path)
    if not _RESTART.fullmatch(value):
        raise fail(at, path, f"unknown restart policy {value!r}",
                   hint="use no, always, on-failure, on-failure:N or unless-stopped")
    return value


def _pull_policy(raw: Any, at: Locator, path: KeyPath, _: str) -> str | None:
    if raw is None:
        return None
    value = expect_str(raw, at, path)
    return "missing" if value == "if_not_present" else value


def _extra_hosts(raw: Any, at: Locator, path: KeyPath, _: str) -> tuple[str, ...]:
    """compose-go's HostsList: "host:ip", "host=ip" or a mapping; several IPs may be comma
    separated; brackets around IPv6 addresses are dropped. Rendered "host=ip", sorted."""
    pairs: list[tuple[str, str, KeyPath]] = []
    if raw is None:
        return ()
    if isinstance(raw, dict):
        for host, value in raw.items():
            ips = value if isinstance(value, list) else [value]
            pairs.extend((str(host), go_string(ip), (*path, host)) for ip in ips)
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            text = expect_str(item, at, (*path, i))
            host, sep, joined = text.partition("=")
            if not sep:
                host, sep, joined = text.partition(":")
            if not sep:
                raise fail(at, (*path, i), f"extra host {text!r} has no IP address",
                           hint='write "host=ip" or "host:ip"')
            pairs.extend((host, ip, (*path, i)) for ip in joined.split(","))
    else:
        raise fail(at, path, f"expected a list or a mapping, got {kind(raw)}")
    out = []
    for host, ip, where in pairs:
        if not host or ":" in host or "=" in host:
            raise fail(at, where, f"bad host name {host!r}")
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        out.append(f"{host}={ip}")
    return tuple(sorted(out))


def _ulimits(raw: Any, at: Locator, path: KeyPath, _: str) -> dict[str, Any]:
    """nofile: 1024, or nofile: {soft: 1024, hard: 2048} (compose-spec "ulimits")."""
    out: dict[str, Any] = {}
    for name, value in expect_mapping(raw or {}, at, path).items():
        where = (*path, name)
        if isinstance(value, dict):
            if "soft" not in value or "hard" not in value:
                raise fail(at, where, "a ulimit mapping needs soft and hard")
            soft = expect_int(value["soft"], at, (*where, "soft"))
            hard = expect_int(value["hard"], at, (*where, "hard"))
            if soft > hard and hard != -1:
                raise fail(at, where, f"soft limit {soft} is above the hard limit {hard}")
            out[str(name)] = {"hard": hard, "soft": soft}
        else:
            out[str(name)] = expect_int(value, at, where)
    return dict(sorted(out.items()))


def _devices(raw: Any, at: Locator, path: KeyPath, _: str) -> tuple[str, ...]:
    """"/dev/x:/dev/x[:rwm]" strings, or the long {source, target, permissions}."""
    out = []
    for i, item in enumerate(expect_list(raw, at, path) if raw is not None else ()):
        if isinstance(item, dict):
            source = expect_str(item.get("source"), at, (*path, i, "source"))
            target = expect_str(item.get("target", source), at, (*path, i, "target"))
            perms = item.get("permissions")
            text = f"{source}:{target}"
            if perms is not None and perms != "rwm":
                text += f":{expect_str(perms, at, (*path, i, 'permissions'))}"
            out.append(text)
        else:
            out.append(expect_str(item, at, (*path, i)))
    return tuple(out)


def _logging(raw: Any, at: Locator, path: KeyPath, _: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    body = expect_mapping(raw, at, path)
    out: dict[str, Any] = {k: v for k, v in body.items() if k not in ("driver", "options")}
    if body.get("driver") is not None:
        out["driver"] = expect_str(body["driver"], at, (*path, "driver"))
    if body.get("options") is not None:
        out["options"] = str_mapping(body["options"], at, (*path, "options"))
    return dict(sorted(out.items()))


def _tmpfs(raw: Any, at: Locator, path: KeyPath, _: str) -> tuple[str, ...]:
    items = str_list(raw, at, path)
    for i, item in enumerate(items):
        if not item.startswith("/"):
            raise fail(at, (*path, i) if isinstance(raw, list) else path,
                       f"tmpfs target {item!r} is not an absolute path")
    return items


def _build(raw: Any, at: Locator, path: KeyPath, base_dir: str) -> Build | None:
    return None if raw is None else Build.parse(raw, at, path, base_dir)


def _healthcheck(raw: Any, at: Locator, path: KeyPath, _: str) -> Healthcheck | None:
    return None if raw is None else Healthcheck.parse(raw, at, path)


def _deploy(raw: Any, at: Locator, path: KeyPath, _: str) -> Deploy | None:
    return None if raw is None else Deploy.parse(raw, at, path)


def _develop(raw: Any, at: Locator, path: KeyPath, base_dir: str) -> Develop | None:
    return None if raw is None else Develop.parse(raw, at, path, base_dir)


# Compose key -> (Service field, handler).
HANDLERS: dict[str, tuple[str, Handler]] = {
    "image": ("image", _str),
    "build": ("build", _build),
    "command": ("command", lambda r, a, p, _: parse_command(r, a, p)),
    "entrypoint": ("entrypoint", lambda r, a, p, _: parse_command(r, a, p)),
    "working_dir": ("working_dir", _str),
    "user": ("user", _str),
    "hostname": ("hostname", _str),
    "domainname": ("domainname", _str),
    "container_name": ("container_name", _str),
    "environment": ("environment", lambda r, a, p, _: env_mapping(r, a, p)),
    "env_file": ("env_files", parse_env_files),
    "ports": ("ports", lambda r, a, p, _: parse_ports(r, a, p)),
    "expose": ("expose", lambda r, a, p, _: parse_expose(r, a, p)),
    "volumes": ("volumes", parse_volumes),
    "tmpfs": ("tmpfs", _tmpfs),
    "depends_on": ("depends_on", lambda r, a, p, _: parse_depends_on(r, a, p)),
    "healthcheck": ("healthcheck", _healthcheck),
    "restart": ("restart", _restart),
    "deploy": ("deploy", _deploy),
    "scale": ("scale", _count),
    "labels": ("labels", _mapping),
    "annotations": ("annotations", _mapping),
    "secrets": ("secrets", lambda r, a, p, _: parse_file_refs(r, a, p)),
    "configs": ("configs", lambda r, a, p, _: parse_file_refs(r, a, p)),
    "networks": ("networks", lambda r, a, p, _: parse_service_networks(r, a, p)),
    "network_mode": ("network_mode", _str),
    "pid": ("pid", _str),
    "ipc": ("ipc", _str),
    "cap_add": ("cap_add", _list),
    "cap_drop": ("cap_drop", _list),
    "privileged": ("privileged", _bool),
    "read_only": ("read_only", _bool),
    "security_opt": ("security_opt", _list),
    "sysctls": ("sysctls", _mapping),
    "group_add": ("group_add", _list),
    "init": ("init", _opt_bool),
    "stdin_open": ("stdin_open", _bool),
    "tty": ("tty", _bool),
    "stop_grace_period": ("stop_grace_period", _duration),
    "stop_signal": ("stop_signal", _str),
    "extra_hosts": ("extra_hosts", _extra_hosts),
    "dns": ("dns", _list_or_one),
    "dns_search": ("dns_search", _list_or_one),
    "dns_opt": ("dns_opt", _list),
    "mem_limit": ("mem_limit", _bytes),
    "mem_reservation": ("mem_reservation", _bytes),
    "memswap_limit": ("memswap_limit", _bytes),
    "shm_size": ("shm_size", _bytes),
    "cpus": ("cpus", _float),
    "cpu_shares": ("cpu_shares", _int),
    "pids_limit": ("pids_limit", _int),
    "ulimits": ("ulimits", _ulimits),
    "devices": ("devices", _devices),
    "profiles": ("profiles", _list),
    "platform": ("platform", _str),
    "pull_policy": ("pull_policy", _pull_policy),
    "logging": ("logging", _logging),
    "develop": ("develop", _develop),
}


def parse_service(name: str, raw: object, at: Locator, path: KeyPath, base_dir: str) -> Service:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise fail(at, path, f"a service is a mapping, got {kind(raw)}")
    problems = Problems()
    kwargs: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in raw.items():
        entry = HANDLERS.get(key)
        if entry is not None:
            attr, handler = entry
            where = (*path, key)
            try:
                kwargs[attr] = handler(value, at, where, base_dir)
            except (ComposeError, MultiError) as e:
                problems.add(e)
        elif key.startswith("x-"):
            extensions[key] = value
        else:
            other[key] = value
    deploy = kwargs.get("deploy")
    scale = kwargs.get("scale")
    if scale is not None and deploy is not None and deploy.replicas not in (None, scale):
        problems.add(fail(at, (*path, "scale"),
                          f"scale {scale} differs from deploy.replicas {deploy.replicas}",
                          hint="set only one of them"))
    problems.raise_if_any()
    _normalize(kwargs, other)
    kwargs["name"] = name
    kwargs["extensions"] = dict(sorted(extensions.items()))
    kwargs["other"] = dict(sorted(other.items()))
    return build_frozen(Service, kwargs)


def _normalize(kwargs: dict[str, Any], other: dict[str, Any]) -> None:
    """The implicit parts of the Compose model (compose-go loader/normalize.go)."""
    if not kwargs.get("networks") and not kwargs.get("network_mode"):
        kwargs["networks"] = {"default": ServiceNetwork()}
    implied: dict[str, Dependency] = {}
    for link in other.get("links") or ():
        implied.setdefault(str(link).split(":")[0], Dependency(restart=True))
    for namespace in (kwargs.get("network_mode"), kwargs.get("ipc"), kwargs.get("pid"),
                      other.get("uts"), other.get("cgroup")):
        if isinstance(namespace, str) and namespace.startswith("service:"):
            implied.setdefault(namespace[len("service:"):], Dependency(restart=True))
    for source in other.get("volumes_from") or ():
        text = str(source)
        if not text.startswith("container:"):
            implied.setdefault(text.split(":")[0], Dependency())
    if implied:
        deps = dict(kwargs.get("depends_on") or {})
        for service, dep in implied.items():
            deps.setdefault(service, dep)
        kwargs["depends_on"] = dict(sorted(deps.items()))
