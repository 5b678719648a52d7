"""The one way kompy writes YAML: plain data fed as events to ruamel.yaml's C emitter.

Used by ``kompy config`` and by every converter output. Going around ruamel's representer
and resolver is ten times faster (they cost ~2 ms per Kubernetes object) and never adds
anchors for shared values; formatting stays ruamel's. Output is deterministic: keys keep the
order of the data, nothing depends on time or the machine.

Strings that a YAML reader could take for something else are single-quoted: YAML 1.1 words
and numbers (``yes``, ``on``, ``0755``, ``1_000``, ``12:30``, dates), read that way by
kubectl, Helm and PyYAML through YAML 1.1-style resolvers, and anything kompy's own reader
would type (``"8080"``, ``"true"``, ``"0x1F"``), so output reads back as the same values.
Multi-line strings are literal blocks (``|``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
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

from kompy.yaml.reader import resolve_plain_scalar

# Plain scalars that YAML 1.1 resolves to a non-string (bool, null, int, float, sexagesimal
# number, timestamp) although YAML 1.2 and kompy's reader may not.
_YAML11_AMBIGUOUS = re.compile(
    r"""^(?:
        y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      | ~|null|Null|NULL
      | [-+]?(?:0[bB][01_]+|0[oO]?[0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)
      | [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?
      | [-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)
      | [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*
    )$""",
    re.VERBOSE,
)

Emit = Callable[[Any], None]


@lru_cache(maxsize=65536)
def needs_quotes(text: str) -> bool:
    """Whether the string ``text`` must be quoted to read back as a string everywhere."""
    if text == "" or _YAML11_AMBIGUOUS.match(text):
        return True
    return not isinstance(resolve_plain_scalar(text), str)


def _scalar(value: Any) -> ScalarEvent:
    """The event of one scalar; the emitter still quotes what cannot be plain (": ", "#")."""
    if isinstance(value, str):
        style = "|" if "\n" in value else ("'" if needs_quotes(value) else None)
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


def _events(value: Any, emit: Emit) -> None:
    """Emit plain data (dict, list/tuple, scalars) as YAML events, in the data's key order."""
    if isinstance(value, dict):
        emit(MappingStartEvent(None, None, True, flow_style=not value))
        for key, item in value.items():
            emit(_scalar(str(key)))
            _events(item, emit)
        emit(MappingEndEvent())
    elif isinstance(value, (list, tuple)):
        emit(SequenceStartEvent(None, None, True, flow_style=not value))
        for item in value:
            _events(item, emit)
        emit(SequenceEndEvent())
    else:
        emit(_scalar(value))


def _emitter(stream: io.StringIO) -> Emit:
    try:  # the C emitter of ruamel.yaml.clib (a dependency on CPython), else the Python one
        from ruamel.yaml.clib._ruamel_yaml import CEmitter
    except ImportError:
        from ruamel.yaml.emitter import Emitter

        emit: Emit = Emitter(stream, width=1 << 16, allow_unicode=True).emit
        return emit
    emit = CEmitter(stream, width=1 << 16, allow_unicode=True).emit
    return emit


def _dump(documents: Iterable[Any], explicit_start: bool) -> str:
    buffer = io.StringIO()
    emit = _emitter(buffer)
    emit(StreamStartEvent())
    for document in documents:
        emit(DocumentStartEvent(explicit=explicit_start))
        _events(document, emit)
        emit(DocumentEndEvent(explicit=False))
    emit(StreamEndEvent())
    return buffer.getvalue()


def dump_document(data: Any) -> str:
    """One YAML document without a ``---`` line (``kompy config``, values files)."""
    return _dump([data], explicit_start=False)


def dump_documents(documents: list[Any]) -> str:
    """A stream of documents, each starting with ``---``; empty for no documents."""
    return _dump(documents, explicit_start=True) if documents else ""
