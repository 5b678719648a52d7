"""Objects walked with their schema, as structured-merge-diff walks typed values: the field
set of an object, the comparison of two, the merge of an applied configuration into a live
object, and the removal of fields. Server-side apply and managed fields (managedfields.py)
are built on these four.

The schema comes from the registry's OpenAPI definitions (schemas.py) and says how each
place merges (https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy):

* a struct (``properties``) or a map (``additionalProperties``) is *granular* (each field or
  key on its own) unless ``x-kubernetes-map-type: atomic``;
* a list is ``x-kubernetes-list-type``: ``atomic`` (one value), ``set`` (items by value) or
  ``map`` (items by ``x-kubernetes-list-map-keys``). A list without the extension but with
  ``x-kubernetes-patch-strategy: merge`` is a map keyed by its patch merge key (a set when it
  has none), as kube-apiserver's schema conversion reads it; any other list is atomic;
* a scalar, an int-or-string, a quantity, or an object without a schema is a leaf.
"""

from __future__ import annotations

import threading
from typing import Any

from kompy.client.objects import copy_json
from kompy.cluster.apiserver.fieldpaths import (
    FieldSet,
    Path,
    field,
    index_element,
    key_element,
    value_element,
)

# A list key that clients may leave out, with the default the server fills in (SMD reads
# the schema's defaults; the registry's schemas have lost this one).
KEY_DEFAULTS = {"protocol": "TCP"}


class Node:
    """How one place of a kind merges."""

    __slots__ = ("atomic", "elem", "fields", "keys", "kind", "list_type")

    def __init__(self, kind: str = "leaf") -> None:
        self.kind = kind                     # leaf, struct, map, list
        self.atomic = kind == "leaf"
        self.fields: dict[str, Node] = {}    # struct
        self.elem: Node | None = None        # map values, list items
        self.keys: tuple[str, ...] = ()      # the keys of a "map" list
        self.list_type = ""                  # atomic, set, map (lists only)


LEAF = Node()


class Schemas:
    """Compiled nodes of a registry's definitions, built on first use of each kind."""

    def __init__(self, definitions: dict[str, Any]) -> None:
        self._definitions = definitions
        self._named: dict[str, Node] = {}
        self._lock = threading.Lock()

    def root(self, definition: str) -> Node:
        with self._lock:
            return self._ref(definition)

    def _ref(self, name: str) -> Node:
        node = self._named.get(name)
        if node is None:
            schema = self._definitions.get(name)
            if schema is None:
                return LEAF
            node = self._named[name] = Node()       # before filling: schemas recurse
            self._fill(node, schema)
        return node

    def _compile(self, schema: dict[str, Any]) -> Node:
        if "$ref" in schema:
            return self._ref(str(schema["$ref"]).rsplit("/", 1)[-1])
        node = Node()
        self._fill(node, schema)
        return node

    def _fill(self, node: Node, schema: dict[str, Any]) -> None:
        types = schema.get("type")
        types = set(types if isinstance(types, list) else [types]) - {None, "null"}
        if "properties" in schema:
            node.kind, node.atomic = "struct", schema.get("x-kubernetes-map-type") == "atomic"
            node.fields = {k: self._compile(v) for k, v in schema["properties"].items()}
        elif isinstance(schema.get("additionalProperties"), dict):
            node.kind, node.atomic = "map", schema.get("x-kubernetes-map-type") == "atomic"
            node.elem = self._compile(schema["additionalProperties"])
        elif types == {"array"} and isinstance(schema.get("items"), dict):
            node.kind = "list"
            node.elem = self._compile(schema["items"])
            list_type = schema.get("x-kubernetes-list-type")
            strategy = str(schema.get("x-kubernetes-patch-strategy") or "")
            merge_key = schema.get("x-kubernetes-patch-merge-key")
            if list_type is None and "merge" in strategy.split(","):
                list_type = "map" if merge_key else "set"
            node.list_type = list_type or "atomic"
            node.atomic = node.list_type == "atomic"
            if node.list_type == "map":
                node.keys = tuple(schema.get("x-kubernetes-list-map-keys") or
                                  ([merge_key] if merge_key else []))
                if not node.keys:
                    node.list_type, node.atomic = "atomic", True
        else:
            node.kind, node.atomic = "leaf", True


def _element(node: Node, item: Any, index: int) -> tuple[str, str]:
    if node.list_type == "map" and isinstance(item, dict):
        keys = {k: item[k] if k in item else KEY_DEFAULTS.get(k) for k in node.keys}
        return key_element({k: v for k, v in keys.items() if v is not None})
    if node.list_type == "set" and not isinstance(item, (dict, list)):
        return value_element(item)
    return index_element(index)


def _items(node: Node, value: Any) -> dict[tuple[str, str], tuple[int, Any]]:
    out: dict[tuple[str, str], tuple[int, Any]] = {}
    if isinstance(value, list):
        for index, item in enumerate(value):
            out.setdefault(_element(node, item, index), (index, item))
    return out


def _children(node: Node, value: Any) -> Any:
    """(element, child node, child value) of a granular container's members."""
    if node.kind in ("struct", "map") and isinstance(value, dict):
        for key, item in value.items():
            sub = node.fields.get(key) if node.kind == "struct" else node.elem
            yield field(key), sub or LEAF, item
    elif node.kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield _element(node, item, index), node.elem or LEAF, item


def field_set(value: Any, node: Node, prefix: Path = ()) -> FieldSet:
    """The fields ``value`` sets (structured-merge-diff's ToFieldSet): its leaves, the
    items of its lists and maps, and the empty or null fields it names."""
    out: FieldSet = set()
    _field_set(value, node, prefix, out)
    return out


def _field_set(value: Any, node: Node, prefix: Path, out: FieldSet) -> None:
    if node.atomic or not isinstance(value, (dict, list)):
        if prefix:
            out.add(prefix)
        return
    for element, sub, item in _children(node, value):
        path = (*prefix, element)
        if node.kind != "struct" or item is None or item == {}:
            out.add(path)         # a list or map item is a member itself
        if item is not None:
            _field_set(item, sub, path, out)


def all_paths(value: Any, node: Node, prefix: Path, out: FieldSet) -> None:
    """Every path under ``prefix`` (prefix included): what a comparison counts as added
    or removed when a whole subtree comes or goes."""
    out.add(prefix)
    if node.atomic or not isinstance(value, (dict, list)):
        return
    for element, sub, item in _children(node, value):
        if item is not None:
            all_paths(item, sub, (*prefix, element), out)
        else:
            out.add((*prefix, element))


class Comparison:
    def __init__(self) -> None:
        self.added: FieldSet = set()
        self.modified: FieldSet = set()
        self.removed: FieldSet = set()


def compare(old: Any, new: Any, node: Node, prefix: Path = (),
            out: Comparison | None = None) -> Comparison:
    """What changed from ``old`` to ``new`` (structured-merge-diff's Compare); equal
    subtrees are skipped whole, so the cost follows the size of the change."""
    out = out or Comparison()
    if old == new:
        return out
    if old is None:
        all_paths(new, node, prefix, out.added)
    elif new is None:
        all_paths(old, node, prefix, out.removed)
    elif node.atomic or not isinstance(old, (dict, list)) or type(old) is not type(new):
        out.modified.add(prefix)
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in {**old, **new}:
            sub = (node.fields.get(key) if node.kind == "struct" else node.elem) or LEAF
            compare(old.get(key), new.get(key), sub, (*prefix, field(key)), out)
    else:
        before, after = _items(node, old), _items(node, new)
        for element in {**before, **after}:
            compare(before.get(element, (0, None))[1], after.get(element, (0, None))[1],
                    node.elem or LEAF, (*prefix, element), out)
    out.added.discard(())
    out.removed.discard(())
    out.modified.discard(())
    return out


def merge(live: Any, config: Any, node: Node) -> Any:
    """``config`` applied onto ``live`` (structured-merge-diff's Merge): granular places
    merge member by member, atomic ones are replaced; list items of the configuration come
    in its order, then the live ones it does not name."""
    if config is None:
        return copy_json(live)
    if live is None or node.atomic or type(live) is not type(config) or \
            not isinstance(config, (dict, list)):
        return copy_json(config)
    if isinstance(config, dict):
        out = copy_json(live)
        for key, item in config.items():
            sub = (node.fields.get(key) if node.kind == "struct" else node.elem) or LEAF
            if item is None:
                out.pop(key, None)
            else:
                out[key] = merge(live.get(key), item, sub)
        return out
    before = _items(node, live)
    merged, named = [], set()
    for index, item in enumerate(config):
        element = _element(node, item, index)
        named.add(element)
        merged.append(merge(before.get(element, (0, None))[1], item, node.elem or LEAF))
    merged += [copy_json(item) for element, (_, item) in before.items()
               if element not in named]
    return merged


def remove(value: Any, path: Path, node: Node) -> None:
    """Remove the field or item at ``path`` from ``value`` in place (nothing when absent)."""
    parents: list[tuple[Any, Node]] = []
    current, current_node = value, node
    for element in path[:-1]:
        found = child(current, current_node, element)
        if found is None:
            return
        parents.append((current, current_node))
        current, current_node = found
    last = path[-1]
    if isinstance(current, dict) and last[0] == "f":
        current.pop(last[1], None)
    elif isinstance(current, list):
        for index, item in enumerate(current):
            if _element(current_node, item, index) == last:
                del current[index]
                return


def child(value: Any, node: Node, element: tuple[str, str]) -> tuple[Any, Node] | None:
    if isinstance(value, dict) and element[0] == "f" and element[1] in value:
        sub = (node.fields.get(element[1]) if node.kind == "struct" else node.elem) or LEAF
        return value[element[1]], sub
    if isinstance(value, list):
        for index, item in enumerate(value):
            if _element(node, item, index) == element:
                return item, node.elem or LEAF
    return None


def named_fields(path: Path, value: Any, node: Node) -> list[Path]:
    """The struct fields along ``path`` in ``value`` (proper prefixes, below the top
    level): what pruning may remove with it."""
    out: list[Path] = []
    current, current_node = value, node
    for depth, element in enumerate(path[:-1]):
        found = child(current, current_node, element)
        if found is None:
            break
        is_field = current_node.kind == "struct"
        current, current_node = found
        if is_field and depth >= 1:
            out.append(path[:depth + 1])
    return out


def normalize(value: Any, node: Node) -> None:
    """Drop what Go's decoder and encoder would not keep, in place: null fields, and empty
    maps and lists (``omitempty``), so an object reads back as from kube-apiserver
    (``annotations: {}`` from a patch is no annotations). Empty structs stay, as Go
    writes them (``resources: {}``)."""
    if not isinstance(value, dict) or node.kind not in ("struct", "map"):
        return
    for key in list(value):
        item = value[key]
        sub = (node.fields.get(key) if node.kind == "struct" else node.elem) or LEAF
        if item is None and node.kind == "struct":
            del value[key]
        elif isinstance(item, dict):
            normalize(item, sub)
            if not item and sub.kind == "map" and node.kind == "struct":
                del value[key]
        elif isinstance(item, list):
            if not item and node.kind == "struct" and sub.kind == "list":
                del value[key]
            elif sub.kind == "list" and sub.elem is not None:
                for element in item:
                    normalize(element, sub.elem)
