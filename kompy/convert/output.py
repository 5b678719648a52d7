"""Conversion output as text: one file per object, or one stream; YAML or JSON.

The only module that writes YAML for the converter (ruamel.yaml's C emitter). Output is
deterministic: keys keep the order templates wrote them in, nothing depends on time or on
the machine, so the same project gives byte-identical output.

Strings that a YAML 1.1 reader would take for something else ("yes", "on", "0755",
"1_000", "12:30") are quoted: kubectl and Helm read YAML 1.1-style through go-yaml v2.
Multi-line strings are written as literal blocks (``|``).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from kompy.convert import Conversion

# Plain scalars that YAML 1.1 or 1.2 resolves to a non-string (bool, null, int, float,
# sexagesimal number, timestamp), so they must be quoted when they are strings.
_AMBIGUOUS = re.compile(
    r"""^(?:
        y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      | ~|null|Null|NULL
      | [-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)
      | [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?
      | [-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)
      | [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*
    )$""",
    re.VERBOSE,
)


def _scalar(value: Any) -> ScalarEvent:
    """The event of one scalar; the C emitter picks quoting when plain is not possible."""
    if isinstance(value, str):
        style = None
        if "\n" in value:
            style = "|"
        elif value == "" or _AMBIGUOUS.match(value):
            style = "'"
        return ScalarEvent(None, None, (True, True), value, style=style)
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = (".nan" if value != value else ".inf" if value == float("inf")
                else "-.inf" if value == float("-inf") else repr(value))
    else:
        raise TypeError(f"cannot write {type(value).__name__} as YAML")
    return ScalarEvent(None, None, (True, False), text)


def _events(value: Any, emit: Callable[[Any], None]) -> None:
    """Emit ``value`` (plain data: dict, list, scalars) as YAML events, in key order.

    Feeding events straight to ruamel's C emitter skips its representer and resolver, which
    cost ~2 ms per Kubernetes object; formatting stays ruamel's.
    """
    if isinstance(value, dict):
        emit(MappingStartEvent(None, None, True, flow_style=False))
        for key, item in value.items():
            emit(_scalar(key))
            _events(item, emit)
        emit(MappingEndEvent())
    elif isinstance(value, (list, tuple)):
        emit(SequenceStartEvent(None, None, True, flow_style=False))
        for item in value:
            _events(item, emit)
        emit(SequenceEndEvent())
    else:
        emit(_scalar(value))


def _emitter(stream: io.StringIO) -> Callable[[Any], None]:
    try:  # the C emitter of ruamel.yaml.clib (a dependency on CPython), else the Python one
        from ruamel.yaml.clib._ruamel_yaml import CEmitter
    except ImportError:
        from ruamel.yaml.emitter import Emitter

        python_emitter = Emitter(stream, width=1 << 16, allow_unicode=True)
        emit: Callable[[Any], None] = python_emitter.emit
        return emit
    c_emitter = CEmitter(stream, width=1 << 16, allow_unicode=True)
    emit = c_emitter.emit
    return emit


def dump_yaml(objects: list[dict[str, Any]]) -> str:
    """Objects as one YAML stream of documents, each starting with ``---``."""
    if not objects:
        return ""
    buffer = io.StringIO()
    emit = _emitter(buffer)
    emit(StreamStartEvent())
    for obj in objects:
        emit(DocumentStartEvent(explicit=True))
        _events(obj, emit)
        emit(DocumentEndEvent(explicit=False))
    emit(StreamEndEvent())
    return buffer.getvalue()


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def file_name(obj: dict[str, Any], fmt: str) -> str:
    """Kompose's naming: "<name>-<kind>.yaml" (web-deployment.yaml, web-service.yaml)."""
    name = str(obj.get("metadata", {}).get("name", "object"))
    kind = str(obj.get("kind", "object")).lower()
    return f"{name}-{kind}.{'json' if fmt == 'json' else 'yaml'}"


def render_files(conversion: Conversion, fmt: str = "yaml") -> dict[str, str]:
    """One file per object, named stably; in the conversion's order."""
    files: dict[str, str] = {}
    for obj in conversion.objects:
        name = file_name(obj, fmt)
        if name in files:  # same name and kind in two namespaces: keep both
            stem, _, ext = name.rpartition(".")
            namespace = str(obj.get("metadata", {}).get("namespace", "other"))
            name = f"{stem}-{namespace}.{ext}"
        files[name] = dump_json(obj) if fmt == "json" else dump_yaml([obj])
    return files


def render_stream(conversion: Conversion, fmt: str = "yaml") -> str:
    """Every object in one text: a multi-document YAML stream, or a JSON ``List``."""
    if fmt == "json":
        return dump_json({"apiVersion": "v1", "kind": "List", "items": conversion.objects})
    return dump_yaml(conversion.objects)
