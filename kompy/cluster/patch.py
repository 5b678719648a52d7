"""Patches: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Strategic merge patch (kubectl's default) is served as a merge patch: maps merge, but lists
are replaced whole instead of merged by their ``name``/``containerPort`` keys. kompy's own
clients only send merge patches.
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
