"""ports and expose: every short syntax to compose-go's long form."""

from __future__ import annotations

import pytest

from kompy.errors import ComposeError
from kompy.model import NullLocator, PortMapping
from kompy.model.ports import expose_ports, parse_ports

from .helpers import rendered, service, service_errors, where


def ports(*entries: object) -> list[dict[str, object]]:
    return [p.to_compose() for p in parse_ports(list(entries), NullLocator(), ("ports",))]


def test_container_port_only() -> None:
    assert ports("80", 81) == [
        {"mode": "ingress", "protocol": "tcp", "target": 80},
        {"mode": "ingress", "protocol": "tcp", "target": 81},
    ]


def test_published_is_a_string() -> None:
    assert ports("8080:80") == [
        {"mode": "ingress", "protocol": "tcp", "published": "8080", "target": 80}]


def test_host_ip_and_protocol() -> None:
    assert ports("127.0.0.1:8080:80/udp") == [{
        "host_ip": "127.0.0.1", "mode": "ingress", "protocol": "udp", "published": "8080",
        "target": 80}]


def test_ipv6_host_ip_loses_its_brackets() -> None:
    (port,) = parse_ports(["[::1]:80:80"], NullLocator(), ())
    assert port == PortMapping(target=80, published="80", host_ip="::1")


def test_ip_with_empty_host_port() -> None:
    (port,) = parse_ports(["127.0.0.1::80"], NullLocator(), ())
    assert port == PortMapping(target=80, host_ip="127.0.0.1")


def test_ranges_give_one_mapping_per_port() -> None:
    got = parse_ports(["8000-8002:80-82"], NullLocator(), ())
    assert [(p.published, p.target) for p in got] == [("8000", 80), ("8001", 81), ("8002", 82)]


def test_container_range_without_host() -> None:
    got = parse_ports(["3001-3003"], NullLocator(), ())
    assert [(p.published, p.target) for p in got] == [(None, 3001), (None, 3002), (None, 3003)]


def test_host_range_for_one_container_port_is_kept() -> None:
    (port,) = parse_ports(["8000-8010:80"], NullLocator(), ())
    assert port.published == "8000-8010" and port.target == 80


def test_long_form_with_every_key() -> None:
    got = ports({"name": "web", "target": 80, "published": 8080, "host_ip": "0.0.0.0",
                 "protocol": "TCP", "app_protocol": "http", "mode": "host"})
    assert got == [{"app_protocol": "http", "host_ip": "0.0.0.0", "mode": "host", "name": "web",
                    "protocol": "tcp", "published": "8080", "target": 80}]


def test_long_form_defaults() -> None:
    assert ports({"target": 80}) == [{"mode": "ingress", "protocol": "tcp", "target": 80}]


def test_service_renders_ports_in_order() -> None:
    got = rendered("""
        image: x
        ports: ["9090-9091:8080-8081", "49100:22"]
    """)["ports"]
    assert [(p["published"], p["target"]) for p in got] == [
        ("9090", 8080), ("9091", 8081), ("49100", 22)]


@pytest.mark.parametrize("entry", ["0:80", "80:70000", "65536", "8000-8002:80-81", "80/icmp",
                                   "bad:80", "1.2.3:80:80", "8002-8000:80"])
def test_invalid_short_syntax(entry: str) -> None:
    with pytest.raises(ComposeError) as info:
        parse_ports([entry], NullLocator(), ("ports",))
    assert info.value.key_path == ("ports", 0)


def test_out_of_range_port_names_file_line_and_column() -> None:
    (err,) = service_errors("""
        image: x
        ports:
          - "8080:80"
          - "8080:99999"
    """)
    assert where(err) == "7:9"  # the "- " item on line 7
    assert err.key_path == ("services", "s", "ports", 1)
    assert "99999" in err.message and err.location is not None
    assert err.location.file == "compose.yaml"


def test_several_bad_ports_are_all_reported() -> None:
    errs = service_errors("""
        image: x
        ports: ["0", "8000-8002:80-81", {published: 80}]
    """)
    assert len(errs) == 3
    assert "differ in length" in errs[1].message
    assert "needs a target" in errs[2].message


def test_expose() -> None:
    s = service("""
        image: x
        expose: [3000, "8000", "8000-8010", "53/udp"]
    """)
    assert s.expose == ("3000", "8000", "8000-8010", "53/udp")


def test_expose_out_of_range() -> None:
    (err,) = service_errors("""
        image: x
        expose: [80, 70000]
    """)
    assert err.key_path == ("services", "s", "expose", 1)


def test_expose_entries_read_as_port_and_protocol_pairs() -> None:
    assert expose_ports("80") == [(80, "TCP")]
    assert expose_ports("8000-8002/udp") == [(8000, "UDP"), (8001, "UDP"), (8002, "UDP")]
    assert expose_ports(" 53/SCTP ") == [(53, "SCTP")]
    # What the loader refuses is no pair at all (never a guess, never an exception).
    assert expose_ports("web") == expose_ports("80/http") == expose_ports("80-") == []
