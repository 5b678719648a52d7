"""Request bodies to Python values, with the limits hostile input needs.

JSON, or YAML when the Content-Type says so (kube-apiserver accepts ``application/yaml``
for the same endpoints). Whatever the body is, the answer to a bad one is a 400 Status:

* nesting: a document nested deeper than ``MAX_DEPTH`` levels is refused. Python's JSON
  decoder stops at about 1,000 levels with a RecursionError, and everything after it
  (copies, patches, schema checks) recurses too; Kubernetes objects are about 15 levels
  deep at most. YAML goes through kompy's event-based reader, which never recurses.
* numbers: ``NaN``/``Infinity`` (which Python's decoder accepts and JSON does not) and
  numbers too large for a float are refused; an integral number written as a float
  (``1e12``, ``3.0``) becomes an integer, as Go's decoder reads it into an integer field,
  so the schema's type and range checks see the number the client meant.
"""

from __future__ import annotations

import json
import math
from contextvars import ContextVar
from typing import Any

from kompy.client.errors import ApiError
from kompy.errors import KompyError

MAX_DEPTH = 100
MEDIA_TYPES = ("application/json", "application/yaml", "application/json-patch+json",
               "application/merge-patch+json", "application/strategic-merge-patch+json")


# The duplicate fields of the request's JSON body, for fieldValidation (handlers.py): Go's
# strict decoder reports them by path (``duplicate field "spec.replicas"``); Python's
# decoder keeps the last value silently, as Go's lenient one does.
_duplicates: ContextVar[list[str]] = ContextVar("kompy_duplicate_fields")


class _Duplicated(dict[str, Any]):
    """A JSON object that repeated some of its keys (``repeated``)."""

    repeated: list[str]


def duplicate_fields() -> list[str]:
    """The duplicate fields of the body the current request decoded last."""
    return list(_duplicates.get([]))


class _Pairs:
    """json's object_pairs_hook: a dict, marked when it repeats a key (``seen`` then)."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) == len(pairs):
            return out
        self.seen = True
        marked = _Duplicated(out)
        keys: set[str] = set()
        marked.repeated = []
        for key, _ in pairs:
            if key in keys:
                marked.repeated.append(key)
            keys.add(key)
        return marked


def _find_duplicates(value: Any, path: str, found: list[str]) -> Any:
    """``value`` with plain dicts again, the repeated keys' paths added to ``found``."""
    if isinstance(value, dict):
        repeated = set(value.repeated) if isinstance(value, _Duplicated) else set()
        out = {}
        for key, item in value.items():     # in the document's order
            where = f"{path}.{key}" if path else key
            if key in repeated:
                found.append(where)
            out[key] = _find_duplicates(item, where, found)
        return out
    if isinstance(value, list):
        return [_find_duplicates(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _number(text: str) -> int | float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return int(value) if value.is_integer() else value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode(raw: bytes, content_type: str = "application/json") -> Any:
    """The body's value (None when empty); ApiError 400 when it cannot be one."""
    _duplicates.set([])
    if not raw.strip():
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    pairs = _Pairs()
    if media == "application/vnd.kubernetes.protobuf":
        value = _protobuf(raw)
    elif "yaml" in media:
        value = _yaml(raw)
    elif media and "json" not in media:
        raise ApiError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format - accepted media "
                       f"types include: {', '.join(MEDIA_TYPES)}")
    else:
        try:
            value = json.loads(raw, parse_float=_number, parse_constant=_constant,
                               object_pairs_hook=pairs)
        except RecursionError:
            raise bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels"
                              ) from None
        except ValueError as e:     # includes UnicodeDecodeError
            raise bad_request(f"the request body is not valid JSON: {e}") from None
    if too_deep(value, MAX_DEPTH):
        raise bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")
    if pairs.seen:
        found: list[str] = []
        value = _find_duplicates(value, "", found)
        _duplicates.set(found)
    return value



def _protobuf(raw: bytes) -> Any:
    """The few kinds kubectl 1.33 sends as protobuf whatever the server says (protobuf.py)."""
    from kompy.cluster.apiserver import kubeproto, protobuf

    try:
        return kubeproto.decode(raw)
    except protobuf.NotDecodable as e:
        raise ApiError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format ({e}) - accepted "
                       f"media types include: {', '.join(MEDIA_TYPES)}") from None


def _yaml(raw: bytes) -> Any:
    from kompy.yaml.reader import decode_source, load_yaml

    try:
        docs = load_yaml(decode_source(raw, "<request body>"), "<request body>")
    except KompyError as e:
        raise bad_request(f"the request body is not valid YAML: {e.message}") from None
    if len(docs) != 1:
        raise bad_request(f"the request body must be one YAML document, not {len(docs)}")
    if too_deep(docs[0].data, MAX_DEPTH):
        raise bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")
    return _plain(docs[0].data)


def _plain(value: Any) -> Any:
    """YAML's values as JSON has them (the reader's own types become plain ones)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise bad_request("the request body holds a number JSON cannot represent")
        return int(value) if value.is_integer() else value
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(getattr(value, "value", value))


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts and lists more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
