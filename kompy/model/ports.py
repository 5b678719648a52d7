"""Service ports and expose: every short syntax to the long form compose-go produces.

Short syntax (compose-spec "ports"): ``[HOST:]CONTAINER[/PROTOCOL]`` where HOST is
``[IP:](port | range)`` and CONTAINER is ``port | range``. compose-go parses it with Docker's
``nat.ParsePortSpecs``: a container range gives one mapping per port (the host range, when
given, must have the same length); a single container port with a host range keeps the range
as ``published`` (Docker picks a free port in it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, Problems, fail, parse_items
from kompy.model.scalars import check_keys, expect_int, expect_str, go_string, kind, opt_str
from kompy.model.values import remember

# Parsed short syntaxes, shared (the values are immutable); see kompy.model.values.remember.
_SHORT: dict[str, tuple[PortMapping, ...]] = {}
PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
_LONG_KEYS = frozenset({"name", "target", "published", "host_ip", "protocol", "app_protocol",
                        "mode"})
_PORT_HINT = "a port is a number from 1 to 65535"


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One container port; a short-syntax range ("8000-8002:80-82") becomes several."""

    target: int
    published: str | None = None  # "8080" or a host range "8080-8090"; None: not published
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> tuple[PortMapping, ...]:
        """One entry of ``ports:``; returns every mapping the entry stands for."""
        if isinstance(raw, bool) or raw is None:
            raise fail(at, path, f"expected a port, got {kind(raw)}")
        if isinstance(raw, int):
            return (cls(target=_port(raw, at, path)),)
        if isinstance(raw, str):
            cached = _SHORT.get(raw)
            return cached if cached is not None else remember(
                _SHORT, raw, _parse_short(raw, at, path))
        if isinstance(raw, dict):
            return (_parse_long(raw, at, path),)
        raise fail(at, path, f"expected a port string, number or mapping, got {kind(raw)}",
                   hint='for example "8080:80" or {target: 80, published: "8080"}')

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.app_protocol is not None:
            out["app_protocol"] = self.app_protocol
        if self.host_ip is not None:
            out["host_ip"] = self.host_ip
        out["mode"] = self.mode
        if self.name is not None:
            out["name"] = self.name
        out["protocol"] = self.protocol
        if self.published is not None:
            out["published"] = self.published
        out["target"] = self.target
        return out


def parse_ports(raw: object, at: Locator, path: KeyPath) -> tuple[PortMapping, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail(at, path, f"expected a list of ports, got {kind(raw)}")
    # A short-syntax range gives several mappings per entry.
    return tuple(port for entry in parse_items(PortMapping.parse, raw, at, path) for port in entry)


def parse_expose(raw: object, at: Locator, path: KeyPath) -> tuple[str, ...]:
    """``expose:`` entries are kept as strings ("80", "8000-8010", "53/udp"), checked."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail(at, path, f"expected a list of ports, got {kind(raw)}")
    problems = Problems()
    out: list[str] = []
    for i, item in enumerate(raw):
        p = (*path, i)
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            problems.add(fail(at, p, f"expected a port, got {kind(item)}"))
            continue
        text = go_string(item)
        number, _, proto = text.partition("/")
        if proto and proto.lower() not in PROTOCOLS:
            problems.add(fail(at, p, f"unknown protocol {proto!r} in {text!r}",
                              hint="use tcp, udp or sctp"))
            continue
        if problems.guard(_range, number, at, p, text):
            out.append(text)
    problems.raise_if_any()
    return tuple(out)


def expose_ports(text: str) -> list[tuple[int, str]]:
    """An ``expose`` entry as :func:`parse_expose` keeps it ("80", "8000-8010", "53/udp") as
    (port, PROTOCOL) pairs, one per port of a range; [] for an entry it would refuse."""
    number, _, proto = text.strip().partition("/")
    low, dash, high = number.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()) or \
            (proto and proto.lower() not in PROTOCOLS):
        return []
    first = int(low)
    last = int(high) if dash else first
    return [(port, (proto or "tcp").upper()) for port in range(first, last + 1)]


def _port(value: int, at: Locator, path: KeyPath, text: str | None = None) -> int:
    if not 1 <= value <= 65535:
        where = f" in {text!r}" if text is not None else ""
        raise fail(at, path, f"port {value} is out of range{where}", hint=_PORT_HINT)
    return value


def _range(text: str, at: Locator, path: KeyPath, whole: str) -> tuple[int, int]:
    """"80" -> (80, 80); "8000-8010" -> (8000, 8010)."""
    start, dash, end = text.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()):
        raise fail(at, path, f"invalid port {text!r} in {whole!r}", hint=_PORT_HINT)
    low = _port(int(start), at, path, whole)
    high = _port(int(end), at, path, whole) if dash else low
    if high < low:
        raise fail(at, path, f"invalid port range {text!r} in {whole!r}",
                   hint="the end of a range comes after its start")
    return low, high


def _split_short(text: str) -> tuple[str, str, str]:
    """ip, host port, container port, as docker/go-connections' splitParts."""
    parts = text.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _parse_short(text: str, at: Locator, path: KeyPath) -> tuple[PortMapping, ...]:
    ip, host, container = _split_short(text.strip())
    container, _, proto = container.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise fail(at, path, f"unknown protocol {proto!r} in {text!r}", hint="use tcp, udp or sctp")
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise fail(at, path, f"invalid IP address {ip!r} in {text!r}",
                       hint="write IPv6 addresses in brackets: \"[::1]:8080:80\"") from None
    if not container:
        raise fail(at, path, f"no container port in {text!r}")
    low, high = _range(container, at, path, text)
    host_low = host_high = 0
    if host:
        host_low, host_high = _range(host, at, path, text)
        if high - low != host_high - host_low and high != low:
            raise fail(
                at, path,
                f"port ranges {host!r} and {container!r} in {text!r} differ in length",
                hint="give as many host ports as container ports, or a single container port",
            )
    out = []
    for i in range(high - low + 1):
        published: str | None = None
        if host:
            published = str(host_low + i)
            if low == high and host_low != host_high:
                published = f"{host_low}-{host_high}"
        out.append(PortMapping(target=low + i, published=published, host_ip=ip or None,
                               protocol=proto))
    # compose-go sorts the ports of one entry by their "port/proto" key, as strings.
    out.sort(key=lambda p: f"{p.target}/{p.protocol}")
    return tuple(out)


def _parse_long(raw: dict[str, Any], at: Locator, path: KeyPath) -> PortMapping:
    check_keys(raw, _LONG_KEYS, at, path)
    if "target" not in raw:
        raise fail(at, path, "a port mapping needs a target (the container port)")
    target = _port(expect_int(raw["target"], at, (*path, "target")), at, (*path, "target"))
    published = raw.get("published")
    pub_text: str | None = None
    if published is not None:
        pub_text = expect_str(published, at, (*path, "published"))
        if pub_text == "":
            pub_text = None
        else:
            _range(pub_text, at, (*path, "published"), pub_text)
    protocol = expect_str(raw.get("protocol", "tcp"), at, (*path, "protocol")).lower()
    if protocol not in PROTOCOLS:
        raise fail(at, (*path, "protocol"), f"unknown protocol {protocol!r}",
                   hint="use tcp, udp or sctp")
    mode = expect_str(raw.get("mode", "ingress"), at, (*path, "mode"))
    if mode not in ("ingress", "host"):
        raise fail(at, (*path, "mode"), f"unknown port mode {mode!r}", hint="use ingress or host")
    host_ip = opt_str(raw.get("host_ip"), at, (*path, "host_ip"))
    return PortMapping(
        target=target, published=pub_text, host_ip=host_ip or None, protocol=protocol,
        mode=mode, name=opt_str(raw.get("name"), at, (*path, "name")),
        app_protocol=opt_str(raw.get("app_protocol"), at, (*path, "app_protocol")),
    )
