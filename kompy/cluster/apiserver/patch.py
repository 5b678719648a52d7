"""Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge patch is what ``kubectl apply`` sends: like a merge patch, but lists whose
elements have a merge key (containers by ``name``, volumeMounts by ``mountPath``...) are
merged element by element, with the ``$patch``, ``$setElementOrder``, ``$retainKeys`` and
``$deleteFromPrimitiveList`` directives.
https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
The merge keys come from a table of the fields kompy's kinds use (Kubernetes reads them from
its Go types); other lists are replaced whole. kompy's own clients send merge patches.
"""

from __future__ import annotations

import copy
from typing import Any

from kompy.client.errors import ApiError


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a map patch merges recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _bad(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"invalid JSON patch: {message}")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _bad(f"path {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise _bad(f"path segment {part!r} not found") from e
    return cur, parts[-1]


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 operations add, remove, replace, test (move/copy are rarely sent)."""
    if not isinstance(ops, list):
        raise _bad("expected a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, parts = op.get("op"), _pointer(str(op.get("path", "")))
        if not parts:
            raise _bad("cannot patch the whole document")
        parent, key = _parent(doc, parts)
        try:
            if kind == "add" and isinstance(parent, list):
                parent.insert(len(parent) if key == "-" else int(key), op.get("value"))
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    parent[int(key)] = op.get("value")
                else:
                    if kind == "replace" and key not in parent:
                        raise _bad(f"{op.get('path')} does not exist")
                    parent[key] = op.get("value")
            elif kind == "remove":
                del parent[int(key) if isinstance(parent, list) else key]
            elif kind == "test":
                actual = parent[int(key)] if isinstance(parent, list) else parent.get(key)
                if actual != op.get("value"):
                    raise _bad(f"test failed at {op.get('path')}")
            else:
                raise _bad(f"unsupported operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise _bad(f"{kind} {op.get('path')}: {e}") from e
    return doc


MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type",
    "ownerReferences": "uid", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}


def _merge_key(field: str, target: list[Any], patch: list[Any]) -> str | None:
    if field == "ports":      # container ports by containerPort, Service ports by port
        items = [*target, *patch]
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i
                                      for i in items) else "port"
    return MERGE_KEYS.get(field)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = dict(target) if isinstance(target, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in (value or [])]
        elif key in ("$retainKeys", "$patch"):
            continue
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            merged = _merge_list(key, out[key], value)
            out[key] = merged
        else:
            out[key] = strategic_merge_patch(out.get(key), value)
    for field, order in orders.items():
        out[field] = _reorder(field, out.get(field) or [], order)
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _merge_list(field: str, target: list[Any], patch: list[Any]) -> list[Any]:
    key = _merge_key(field, target, patch)
    if key is None or not all(isinstance(i, dict) for i in [*target, *patch]):
        return [strategic_merge_patch(None, i) if isinstance(i, dict) else i for i in patch]
    out = [copy.deepcopy(i) for i in target]
    for item in patch:
        index = next((n for n, t in enumerate(out) if t.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append(strategic_merge_patch(None, item))
        else:
            out[index] = strategic_merge_patch(out[index], item)
    return out


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, items, [])
    if key is None or not all(isinstance(i, dict) for i in items):
        ranked = {repr(v): n for n, v in enumerate(order)}
        return sorted(items, key=lambda v: ranked.get(repr(v), len(order)))
    ranked = {repr(o.get(key)) if isinstance(o, dict) else repr(o): n
              for n, o in enumerate(order)}
    return sorted(items, key=lambda i: ranked.get(repr(i.get(key)), len(order)))
