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
from typing import Any

from kompy.client.errors import ApiError
from kompy.errors import KompyError

MAX_DEPTH = 100
MEDIA_TYPES = ("application/json", "application/yaml", "application/json-patch+json",
               "application/merge-patch+json", "application/strategic-merge-patch+json")


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
    if not raw.strip():
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if "yaml" in media:
        value = _yaml(raw)
    elif media and "json" not in media:
        raise ApiError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format - accepted media "
                       f"types include: {', '.join(MEDIA_TYPES)}")
    else:
        try:
            value = json.loads(raw, parse_float=_number, parse_constant=_constant)
        except RecursionError:
            raise bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels"
                              ) from None
        except ValueError as e:     # includes UnicodeDecodeError
            raise bad_request(f"the request body is not valid JSON: {e}") from None
    if too_deep(value, MAX_DEPTH):
        raise bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")
    return value


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
