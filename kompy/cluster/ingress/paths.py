"""How a request's host and path are matched against Ingress rules (pure functions).

Hosts (https://kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards):
a rule's host is an exact name or ``*.`` followed by a domain, which matches exactly one
more DNS label (``*.foo.com`` matches ``bar.foo.com``, not ``foo.com`` nor ``a.b.foo.com``).

Paths (https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types):

- ``Exact``: the URL path, case-sensitively, as written.
- ``Prefix``: element by element, the path split on ``/``: ``/foo`` matches ``/foo``,
  ``/foo/`` and ``/foo/bar`` but not ``/foobar``; a trailing slash of the rule or the request
  is ignored; ``/`` matches every path.
- ``ImplementationSpecific``: here, as ingress-nginx's ``location /path`` does, a plain
  string prefix (``/foo`` matches ``/foobar`` too).
- With ``nginx.ingress.kubernetes.io/use-regex`` (or ``rewrite-target``) on the Ingress, its
  Prefix and ImplementationSpecific paths are case-insensitive regular expressions anchored
  at the start of the path, as ingress-nginx's ``location ~* "^path"``.

When several paths of a host match, the longest path wins; at the same length an ``Exact``
path wins over the others (the Kubernetes documentation's "Multiple matches").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EXACT = "Exact"
PREFIX = "Prefix"
IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"
REGEX = "Regex"  # kompy's name for a path ingress-nginx treats as a regular expression
PATH_TYPES = (EXACT, PREFIX, IMPLEMENTATION_SPECIFIC)


def normal_host(host: str) -> str:
    """A Host header or SNI name as a lower-case name without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def wildcard_suffix(rule_host: str) -> str | None:
    """``foo.com`` for ``*.foo.com``; None for an exact host."""
    return rule_host[2:] if rule_host.startswith("*.") else None


def host_matches(rule_host: str, host: str) -> bool:
    suffix = wildcard_suffix(rule_host)
    if suffix is None:
        return rule_host == host
    label, dot, rest = host.partition(".")
    return bool(label) and bool(dot) and rest == suffix


def _elements(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


@dataclass(frozen=True)
class PathRule:
    """One path of an Ingress rule, ready to be matched."""

    path: str
    kind: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def make(cls, path: str, kind: str, regex: bool = False) -> PathRule:
        """``regex``: the Ingress asks for regular expressions (use-regex, rewrite-target);
        raises re.error for a pattern that does not compile."""
        path = path or "/"
        if regex and kind != EXACT:
            return cls(path, REGEX, re.compile("^" + path, re.IGNORECASE))
        return cls(path, kind)

    def match(self, path: str) -> re.Match[str] | bool:
        """Whether the request path (query removed) matches; for a regular expression the
        match object, whose groups a rewrite-target refers to."""
        if self.kind == EXACT:
            return path == self.path
        if self.kind == PREFIX:
            rule = _elements(self.path)
            return _elements(path)[:len(rule)] == rule
        if self.kind == REGEX:
            assert self.pattern is not None
            return self.pattern.match(path) or False
        return path.startswith(self.path)

    @property
    def priority(self) -> tuple[int, int]:
        """Sort key, highest first: the longer path, then Exact before the others."""
        length = len(self.path.rstrip("/")) if self.kind == PREFIX else len(self.path)
        return length, 1 if self.kind == EXACT else 0


def split_target(target: str) -> tuple[str, str]:
    """A request target as (path, ``?query`` or ""); an absolute-form target
    (``http://host/p``) gives its path."""
    if "://" in target.split("?", 1)[0]:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        target = rest[slash:] if slash >= 0 else "/"
    path, mark, query = target.partition("?")
    return path or "/", mark + query
