"""Settings the container engine applies to a service's container, kept in Compose's terms:
``extra_hosts``, ``ulimits``, ``devices``, ``logging`` and ``pull_policy``."""

from __future__ import annotations

from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, fail
from kompy.model.scalars import (
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
    go_string,
    kind,
    str_mapping,
)


def parse_extra_hosts(raw: Any, at: Locator, path: KeyPath) -> tuple[str, ...]:
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


def parse_ulimits(raw: Any, at: Locator, path: KeyPath) -> dict[str, Any]:
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


def render_ulimits(value: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}


def parse_devices(raw: Any, at: Locator, path: KeyPath) -> tuple[str, ...]:
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


def parse_logging(raw: Any, at: Locator, path: KeyPath) -> dict[str, Any] | None:
    if raw is None:
        return None
    body = expect_mapping(raw, at, path)
    out: dict[str, Any] = {k: v for k, v in body.items() if k not in ("driver", "options")}
    if body.get("driver") is not None:
        out["driver"] = expect_str(body["driver"], at, (*path, "driver"))
    if body.get("options") is not None:
        out["options"] = str_mapping(body["options"], at, (*path, "options"))
    return dict(sorted(out.items()))


def parse_pull_policy(raw: Any, at: Locator, path: KeyPath) -> str | None:
    """As written; ``if_not_present`` is compose-go's ``missing``."""
    if raw is None:
        return None
    value = expect_str(raw, at, path)
    return "missing" if value == "if_not_present" else value
