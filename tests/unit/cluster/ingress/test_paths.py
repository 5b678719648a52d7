"""Host and path matching of Ingress rules, checked against the table of examples in the
Kubernetes documentation (https://kubernetes.io/docs/concepts/services-networking/ingress/
#examples)."""

from __future__ import annotations

import pytest

from kompy.cluster.ingress.paths import (
    EXACT,
    IMPLEMENTATION_SPECIFIC,
    PREFIX,
    PathRule,
    host_matches,
    normal_host,
    split_target,
)
from kompy.cluster.ingress.table import Server


def _server(*rules: tuple[str, str]) -> Server:
    from kompy.cluster.ingress.annotations import IngressOptions
    from kompy.cluster.ingress.table import Backend, Route

    routes = [Route(PathRule.make(path, kind), Backend("ns", f"{kind}:{path}", "80", ()),
                    ("ns", "i"), IngressOptions()) for kind, path in rules]
    routes.sort(key=lambda r: r.rule.priority, reverse=True)
    return Server("h", routes)


def _winner(server: Server, path: str) -> str | None:
    route, _ = server.find(path)
    return route.backend.service if route and route.backend else None


# (rules, request path, the rule that serves it or None) — the documentation's table.
DOCS = [
    ([(PREFIX, "/")], "/anything", f"{PREFIX}:/"),
    ([(EXACT, "/foo")], "/foo", f"{EXACT}:/foo"),
    ([(EXACT, "/foo")], "/bar", None),
    ([(EXACT, "/foo")], "/foo/", None),
    ([(EXACT, "/foo/")], "/foo", None),
    ([(PREFIX, "/foo")], "/foo", f"{PREFIX}:/foo"),
    ([(PREFIX, "/foo")], "/foo/", f"{PREFIX}:/foo"),
    ([(PREFIX, "/foo/")], "/foo", f"{PREFIX}:/foo/"),
    ([(PREFIX, "/foo/")], "/foo/", f"{PREFIX}:/foo/"),
    ([(PREFIX, "/aaa/bb")], "/aaa/bbb", None),
    ([(PREFIX, "/aaa/bbb")], "/aaa/bbb", f"{PREFIX}:/aaa/bbb"),
    ([(PREFIX, "/aaa/bbb/")], "/aaa/bbb", f"{PREFIX}:/aaa/bbb/"),
    ([(PREFIX, "/aaa/bbb")], "/aaa/bbb/", f"{PREFIX}:/aaa/bbb"),
    ([(PREFIX, "/aaa/bbb")], "/aaa/bbb/ccc", f"{PREFIX}:/aaa/bbb"),
    ([(PREFIX, "/aaa/bbb")], "/aaa/bbbxyz", None),
    ([(PREFIX, "/"), (PREFIX, "/aaa")], "/aaa/ccc", f"{PREFIX}:/aaa"),
    ([(PREFIX, "/"), (PREFIX, "/aaa"), (PREFIX, "/aaa/bbb")], "/aaa/bbb", f"{PREFIX}:/aaa/bbb"),
    ([(PREFIX, "/"), (PREFIX, "/aaa"), (PREFIX, "/aaa/bbb")], "/ccc", f"{PREFIX}:/"),
    ([(PREFIX, "/aaa")], "/ccc", None),
    ([(PREFIX, "/foo"), (EXACT, "/foo")], "/foo", f"{EXACT}:/foo"),
]


@pytest.mark.parametrize(("rules", "path", "winner"), DOCS)
def test_the_documentations_examples(rules: list[tuple[str, str]], path: str,
                                     winner: str | None) -> None:
    assert _winner(_server(*rules), path) == winner


def test_implementation_specific_is_a_string_prefix_as_nginx_locations() -> None:
    server = _server((IMPLEMENTATION_SPECIFIC, "/foo"))
    assert _winner(server, "/foobar") == f"{IMPLEMENTATION_SPECIFIC}:/foo"
    assert _winner(server, "/fo") is None


def test_the_longest_path_wins_whatever_the_order() -> None:
    server = _server((PREFIX, "/api"), (IMPLEMENTATION_SPECIFIC, "/api/v2"), (PREFIX, "/"))
    assert _winner(server, "/api/v2/users") == f"{IMPLEMENTATION_SPECIFIC}:/api/v2"
    assert _winner(server, "/api/v1") == f"{PREFIX}:/api"


def test_regular_expressions_are_anchored_and_case_insensitive() -> None:
    rule = PathRule.make("/foo/(.+)", PREFIX, regex=True)
    found = rule.match("/FOO/bar")
    assert found and found.group(1) == "bar"  # type: ignore[union-attr]
    assert not rule.match("/x/foo/bar")
    assert PathRule.make("/foo", EXACT, regex=True).kind == EXACT  # Exact stays exact


@pytest.mark.parametrize(("rule", "host", "expected"), [
    ("foo.bar.com", "foo.bar.com", True),
    ("*.foo.com", "bar.foo.com", True),
    ("*.foo.com", "baz.bar.foo.com", False),
    ("*.foo.com", "foo.com", False),
    ("foo.bar.com", "bar.com", False),
])
def test_hosts_and_wildcards(rule: str, host: str, expected: bool) -> None:
    assert host_matches(rule, host) is expected


def test_host_headers_lose_their_port_case_and_trailing_dot() -> None:
    assert normal_host("Shop.Local:8443") == "shop.local"
    assert normal_host("shop.local.") == "shop.local"
    assert normal_host("[::1]:80") == "::1"


def test_request_targets() -> None:
    assert split_target("/a/b?x=1") == ("/a/b", "?x=1")
    assert split_target("http://shop.local/a?x") == ("/a", "?x")
    assert split_target("http://shop.local") == ("/", "")
