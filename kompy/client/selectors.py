"""Label and field selectors: parsing and matching, as the Kubernetes API defines them.

https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
Equality-based (``a=b``, ``a==b``, ``a!=b``) and set-based (``a in (x,y)``, ``a notin (x)``,
``a``, ``!a``) requirements, comma-separated, all of which must hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kompy.client.errors import ApiError


class SelectorError(ApiError):
    """A selector that cannot be parsed (HTTP 400 BadRequest)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str                        # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return has and value == self.values[0]
        if self.op == "!=":
            return not has or value != self.values[0]
        if self.op == "in":
            return has and value in self.values
        if self.op == "notin":
            return not has or value not in self.values
        if self.op == "exists":
            return has
        return not has


_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """``app=web,tier in (a,b),!legacy`` -> requirements; SelectorError when malformed."""
    if not text or not text.strip():
        return []
    out: list[Requirement] = []
    for part in _split(text):
        eq = _EQ.match(part)
        if eq:
            op = "!=" if eq.group(2) == "!=" else "="
            out.append(Requirement(eq.group(1), op, (eq.group(3),)))
            continue
        st = _SET.match(part)
        if not st or (st.group(1) and st.group(3)):
            raise SelectorError(f"unable to parse requirement: {part.strip()!r} in label "
                                f"selector {text!r}")
        if st.group(3):
            values = tuple(v.strip() for v in st.group(4).split(",") if v.strip())
            out.append(Requirement(st.group(2), st.group(3), values))
        else:
            out.append(Requirement(st.group(2), "!" if st.group(1) else "exists"))
    return out


def selector_from_match(selector: Mapping[str, Any] | None) -> list[Requirement]:
    """A LabelSelector object (``matchLabels`` + ``matchExpressions``) as requirements."""
    if not selector:
        return []
    out = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        out.append(Requirement(str(expr.get("key")), ops.get(str(expr.get("operator")), "in"),
                               tuple(str(v) for v in expr.get("values") or ())))
    return out


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector object as the string form (``app=web,tier in (a,b)``, sorted by key):
    what a Scale's ``status.selector`` holds (apimachinery's LabelSelectorAsSelector)."""
    parts: list[tuple[str, str]] = []
    for req in selector_from_match(selector):
        values = ",".join(sorted(req.values))
        text = {"=": f"{req.key}={values}", "in": f"{req.key} in ({values})",
                "notin": f"{req.key} notin ({values})", "exists": req.key,
                "!": f"!{req.key}"}.get(req.op, req.key)
        parts.append((req.key, text))
    return ",".join(text for _, text in sorted(parts))


def matches_labels(requirements: list[Requirement], labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in requirements)


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """``spec.nodeName=n1,status.phase!=Running`` -> (field, op, value) triples."""
    if not text or not text.strip():
        return []
    out = []
    for part in text.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise SelectorError(f"invalid field selector: {part!r}")
        out.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return out


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value of a dotted field path as a string ("" when absent), as field selectors see it."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def matches_fields(requirements: list[tuple[str, str, str]], obj: Mapping[str, Any]) -> bool:
    for path, op, value in requirements:
        actual = field_value(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True
