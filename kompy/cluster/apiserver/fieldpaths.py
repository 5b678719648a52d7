"""Field paths and sets for managed fields, as sigs.k8s.io/structured-merge-diff has them.

A path is a tuple of elements; an element is ``(kind, text)``:

* ``("f", name)``: a field of a struct or a key of a map (``f:replicas``);
* ``("k", json)``: an item of an associative list, by its key fields (``k:{"name":"web"}``,
  the keys sorted by name, JSON without spaces);
* ``("v", json)``: an item of a set, by its value (``v:"finalizer"``);
* ``("i", index)``: an item of a list without keys (``i:0``).

A set of fields is a Python set of paths; ``metadata.managedFields[].fieldsV1`` is its
tree form, where ``"."`` marks a path that is itself in the set and has children.
https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Element = tuple[str, str]
Path = tuple[Element, ...]
FieldSet = set[Path]


def field(name: str) -> Element:
    return ("f", name)


def key_element(keys: dict[str, Any]) -> Element:
    return ("k", json.dumps(dict(sorted(keys.items())), separators=(",", ":"),
                            ensure_ascii=False))


def value_element(value: Any) -> Element:
    return ("v", json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False))


def index_element(index: int) -> Element:
    return ("i", str(index))


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` tree of a set of paths (keys in order, as kube-apiserver writes
    them). One pass: each path's node is noted, and the noted nodes that got children
    are marked with ``"."``."""
    root: dict[str, Any] = {}
    members: list[dict[str, Any]] = []
    for path in sorted(paths):
        node = root
        for kind, text in path:
            key = f"{kind}:{text}"
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            node = child
        members.append(node)
    for node in members:
        if node and "." not in node:
            # "." first, as Go's encoder sorts it before the "f:"/"k:" keys.
            items = list(node.items())
            node.clear()
            node["."] = {}
            node.update(items)
    return root


def from_fields_v1(tree: Any) -> FieldSet:
    """The paths of a ``fieldsV1`` tree (malformed parts are ignored)."""
    out: FieldSet = set()
    stack: list[tuple[Any, Path]] = [(tree, ())]
    while stack:
        node, prefix = stack.pop()
        if not isinstance(node, dict):
            continue
        if prefix and (not node or "." in node):
            out.add(prefix)
        for key, child in node.items():
            if key == "." or not isinstance(key, str) or ":" not in key:
                continue
            kind, _, text = key.partition(":")
            stack.append((child, (*prefix, (kind, text))))
    return out


def member(tree: dict[str, Any], path: Path) -> bool:
    """Whether ``path`` is in the set a ``fieldsV1`` tree stands for, without decoding it."""
    node: Any = tree
    for kind, text in path:
        if not isinstance(node, dict):
            return False
        node = node.get(f"{kind}:{text}")
        if node is None:
            return False
    return isinstance(node, dict) and (not node or "." in node)


def render(path: Path) -> str:
    """A path as structured-merge-diff prints it in conflicts: ``.spec.replicas``,
    ``.spec.containers[name="web"].image``, ``.metadata.finalizers[="x"]``, ``[0]``."""
    out = []
    for kind, text in path:
        if kind == "f":
            out.append(f".{text}")
        elif kind == "k":
            keys = json.loads(text)
            out.append("[" + ",".join(f"{k}={_value(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            out.append(f"[={_value(json.loads(text))}]")
        else:
            out.append(f"[{text}]")
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def with_prefixes(paths: Iterable[Path]) -> FieldSet:
    """Every path and every proper prefix of it."""
    out: FieldSet = set()
    for path in paths:
        for end in range(1, len(path) + 1):
            out.add(path[:end])
    return out
