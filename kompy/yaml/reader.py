"""Reads YAML the way Docker Compose does, keeping the line and column of every key.

For Compose files, manifests, and anything whose errors name a line. It walks the C
parser's event stream instead of composing nodes: events are produced iteratively, so a
deeply nested document cannot overflow the C stack (ruamel's composer recurses and crashes
the interpreter past ~50,000 levels), and alias expansion can be budgeted before it happens
(billion laughs).

Scalars resolve as in Go's yaml.v3 decoding into ``interface{}``, which Compose uses:
``yes``/``no``/``on``/``off`` stay strings, ``true``/``false`` are booleans, ``0755`` is octal,
``1_000`` is an integer. Duplicate keys are errors, as in Compose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
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

from kompy.errors import ComposeError, KeyPath, SourceLocation

# Limits that keep hostile input from hanging or exhausting the machine; documented in README.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 256
# Values produced by expanding aliases; real projects use anchors for small shared fragments.
MAX_ALIAS_NODES = 200_000

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUES = frozenset({"true", "True", "TRUE"})
_FALSES = frozenset({"false", "False", "FALSE"})
_LEGACY_OCTAL = re.compile(r"[-+]?0[0-7]+")
_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[1-9][0-9]*|0)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = frozenset({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})
_NEG_INF = frozenset({"-.inf", "-.Inf", "-.INF"})
_NAN = frozenset({".nan", ".NaN", ".NAN"})


class Tagged:
    """A value carrying one of Compose's merge tags, ``!reset`` or ``!override``."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __repr__(self) -> str:
        return f"Tagged({self.tag!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and (self.tag, self.value) == (other.tag, other.value)


MERGE_TAGS = frozenset({"!reset", "!override"})


@dataclass
class YamlDocument:
    """One YAML document: plain data plus the position of every key and item in it."""

    file: str
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def location(self, path: KeyPath) -> SourceLocation | None:
        """The position of ``path``, or of its nearest ancestor that has one."""
        while True:
            mark = self.positions.get(path)
            if mark is not None:
                return SourceLocation(self.file, mark[0], mark[1])
            if not path:
                return None
            path = path[:-1]


def resolve_plain_scalar(text: str) -> Any:
    """Type a plain (unquoted, untagged) scalar as yaml.v3 does for an ``interface{}``."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    first = text[0]
    if not (first.isdigit() or first in "+-."):
        return text
    plain = text.replace("_", "")
    if _LEGACY_OCTAL.fullmatch(plain):
        return int(plain, 8)
    if _INT.fullmatch(plain):
        return int(plain, 0)
    if _FLOAT.fullmatch(plain):
        return float(plain)
    if text in _INF:
        return math.inf
    if text in _NEG_INF:
        return -math.inf
    if text in _NAN:
        return math.nan
    return text


def _resolve_tagged_scalar(tag: str, text: str, mark: SourceLocation) -> Any:
    short = tag.replace("tag:yaml.org,2002:", "!!")
    if short == "!!str":
        return text
    if short == "!!null":
        return None
    value = resolve_plain_scalar(text)
    if short == "!!int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if short == "!!float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if short == "!!bool" and isinstance(value, bool):
        return value
    raise ComposeError(
        f"cannot read {text!r} as {short}",
        location=mark,
        hint="remove the tag or quote the value",
    )


class _Frame:
    """A mapping or sequence under construction."""

    __slots__ = ("container", "path", "pending_key", "key_mark", "anchor", "merges", "size",
                 "tag", "mark", "first_position")

    def __init__(self, container: dict[str, Any] | list[Any], path: KeyPath,
                 anchor: str | None, tag: str | None, mark: Any) -> None:
        self.container = container
        self.path = path
        self.pending_key: str | None = None
        self.key_mark: tuple[int, int] | None = None
        self.anchor = anchor
        self.merges: list[tuple[dict[str, Any], dict[KeyPath, tuple[int, int]]]] = []
        self.size = 1
        self.tag = tag
        self.mark = mark
        self.first_position = 0  # index into _Builder.order where this frame's paths begin


@dataclass
class _Anchor:
    value: Any
    positions: dict[KeyPath, tuple[int, int]]
    size: int


class _Builder:
    """Turns one document's events into data and a position table."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[KeyPath, tuple[int, int]] = {}
        self.anchors: dict[str, _Anchor] = {}
        self.stack: list[_Frame] = []
        # Every recorded path in insertion order, so a frame finds its descendants by slicing.
        self.order: list[KeyPath] = []
        self.alias_nodes = 0
        self.result: Any = None

    def loc(self, mark: Any) -> SourceLocation:
        return SourceLocation(self.file, mark.line + 1, mark.column + 1)

    def build(self, events: Iterator[Any]) -> Any:
        for event in events:
            if isinstance(event, DocumentEndEvent):
                break
            self.feed(event)
        return self.result

    def feed(self, event: Any) -> None:
        if isinstance(event, ScalarEvent):
            self.scalar(event)
        elif isinstance(event, MappingStartEvent):
            self.open(event, {})
        elif isinstance(event, SequenceStartEvent):
            self.open(event, [])
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            self.close()
        elif isinstance(event, AliasEvent):
            self.alias(event)

    # -- where the next value goes ------------------------------------------------------------

    def child_path(self) -> KeyPath:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        assert frame.pending_key is not None
        return (*frame.path, frame.pending_key)

    def expecting_key(self) -> bool:
        frame = self.stack[-1] if self.stack else None
        return (
            frame is not None and isinstance(frame.container, dict) and frame.pending_key is None
        )

    def count_alias(self, n: int, mark: Any) -> None:
        self.alias_nodes += n
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise ComposeError(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} values",
                location=self.loc(mark),
                hint="is this an alias bomb? Compose files use anchors sparingly",
            )

    def record(self, path: KeyPath, pos: tuple[int, int]) -> None:
        if path not in self.positions:
            self.order.append(path)
        self.positions[path] = pos

    def place(self, value: Any, mark: Any, size: int,
              sub_positions: dict[KeyPath, tuple[int, int]] | None = None) -> None:
        """Attach a finished value to its parent (or make it the document).

        ``sub_positions`` are the value's descendants' positions relative to it, for values
        that did not come from events at this place (aliases, merge sources).
        """
        if not self.stack:
            self.result = value
            return
        frame = self.stack[-1]
        frame.size += size
        if isinstance(frame.container, list):
            path = (*frame.path, len(frame.container))
            self.record(path, (mark.line + 1, mark.column + 1))
            frame.container.append(value)
        else:
            key = frame.pending_key
            assert key is not None and frame.key_mark is not None
            frame.pending_key = None
            if key == "<<":
                self.take_merge(frame, value, mark, sub_positions or {})
                return
            path = (*frame.path, key)
            self.record(path, frame.key_mark)
            frame.container[key] = value
        if sub_positions:
            for rel, pos in sub_positions.items():
                self.record((*path, *rel), pos)

    def take_key(self, text: str, mark: Any) -> None:
        frame = self.stack[-1]
        assert isinstance(frame.container, dict)
        if text in frame.container and text != "<<":
            first = self.positions.get((*frame.path, text), (0, 0))
            raise ComposeError(
                f"duplicate key {text!r} (first defined at line {first[0]})",
                location=self.loc(mark),
                key_path=frame.path,
                hint="each key may appear once in a mapping; remove or rename one of them",
            )
        frame.pending_key = text
        frame.key_mark = (mark.line + 1, mark.column + 1)

    # -- events ---------------------------------------------------------------------------------

    def scalar(self, event: Any) -> None:
        text = event.value
        if self.expecting_key():
            self.take_key(text, event.start_mark)
            return
        tag = event.tag
        if tag in MERGE_TAGS:
            inner = resolve_plain_scalar(text) if text and not event.style else None
            value: Any = Tagged(tag, inner if not event.style else text)
        elif tag and tag != "!":
            if not tag.startswith("tag:yaml.org,2002:") and not tag.startswith("!!"):
                raise ComposeError(
                    f"unknown YAML tag {tag}",
                    location=self.loc(event.start_mark),
                    hint="Compose knows only !reset and !override",
                )
            value = _resolve_tagged_scalar(tag, text, self.loc(event.start_mark))
        elif event.style:
            value = text
        else:
            value = resolve_plain_scalar(text)
        if event.anchor:
            self.anchors[event.anchor] = _Anchor(value, {}, 1)
        self.place(value, event.start_mark, 1)

    def open(self, event: Any, container: dict[str, Any] | list[Any]) -> None:
        if self.expecting_key():
            raise ComposeError(
                "a mapping key must be a plain value, not a mapping or a list",
                location=self.loc(event.start_mark),
                key_path=self.stack[-1].path,
            )
        if len(self.stack) >= MAX_DEPTH:
            raise ComposeError(
                f"document nested deeper than {MAX_DEPTH} levels",
                location=self.loc(event.start_mark),
                hint="Compose files are a few levels deep; check the brackets and indentation",
            )
        tag = event.tag
        if tag and tag not in MERGE_TAGS and tag not in (
            "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "!!map", "!!seq", "!"
        ):
            raise ComposeError(
                f"unknown YAML tag {tag}",
                location=self.loc(event.start_mark),
                hint="Compose knows only !reset and !override",
            )
        path = self.child_path()
        merge_tag = tag if tag in MERGE_TAGS else None
        frame = _Frame(container, path, event.anchor, merge_tag, event.start_mark)
        frame.first_position = len(self.order)
        self.stack.append(frame)

    def close(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.container, dict) and frame.merges:
            self.apply_merges(frame)
        value: Any = frame.container
        parent = self.stack[-1] if self.stack else None
        is_merge_source = parent is not None and parent.pending_key == "<<"
        rel: dict[KeyPath, tuple[int, int]] = {}
        if frame.anchor or is_merge_source:
            rel = self.descendants(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = _Anchor(value, rel, frame.size)
        if frame.tag is not None:
            value = Tagged(frame.tag, value)
        # The children's positions are already recorded under frame.path, except for a merge
        # source, whose positions move to the keys it provides.
        self.place(value, frame.mark, frame.size, rel if is_merge_source else None)

    def descendants(self, frame: _Frame) -> dict[KeyPath, tuple[int, int]]:
        """Positions recorded inside ``frame``, relative to it."""
        prefix = len(frame.path)
        return {
            p[prefix:]: self.positions[p]
            for p in self.order[frame.first_position:]
            if p in self.positions and p[:prefix] == frame.path
        }

    def alias(self, event: Any) -> None:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise ComposeError(
                f"unknown alias *{event.anchor}",
                location=self.loc(event.start_mark),
                hint=f"define the anchor &{event.anchor} before using it",
            )
        if self.expecting_key():
            if not isinstance(anchor.value, str):
                raise ComposeError(
                    "a mapping key must be a plain value",
                    location=self.loc(event.start_mark),
                )
            self.take_key(anchor.value, event.start_mark)
            return
        # Budget the expansion before copying, so an alias bomb fails fast.
        self.count_alias(anchor.size, event.start_mark)
        self.place(_copy(anchor.value), event.start_mark, anchor.size, anchor.positions)

    def take_merge(self, frame: _Frame, value: Any, mark: Any,
                   rel: dict[KeyPath, tuple[int, int]]) -> None:
        """Collect a ``<<`` merge key; applied when the mapping closes (explicit keys win)."""
        if isinstance(value, list):
            sources = [(item, {p[1:]: pos for p, pos in rel.items() if len(p) > 1 and p[0] == i})
                       for i, item in enumerate(value)]
        else:
            sources = [(value, rel)]
        for source, source_rel in sources:
            if not isinstance(source, dict):
                raise ComposeError(
                    "a merge key (<<) takes a mapping or a list of mappings",
                    location=self.loc(mark),
                    key_path=frame.path,
                )
            frame.merges.append((source, source_rel))
        # Positions of an inline merge source were recorded under "<<" while it was built.
        base = (*frame.path, "<<")
        for p in rel:
            self.positions.pop((*base, *p), None)

    def apply_merges(self, frame: _Frame) -> None:
        """Explicit keys win over merged ones, earlier merge sources over later ones.

        Only explicit keys are in the container yet: take_merge holds merged sources apart.
        """
        container = frame.container
        assert isinstance(container, dict)
        for source, rel in frame.merges:
            for key, val in source.items():
                if key in container:
                    continue
                container[key] = val
                for p, pos in rel.items():
                    if p[0] == key:
                        self.record((*frame.path, *p), pos)
        frame.merges.clear()


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, Tagged):
        return Tagged(value.tag, _copy(value.value))
    return value


_PARSER = YAML(typ="safe", pure=False)
# libyaml (the C parser) follows YAML 1.1, which forbids ":" inside a plain scalar of a flow
# collection: it rejects `ports: [8080:80]`, which Go's yaml.v3 (YAML 1.2, what Compose uses)
# reads as ["8080:80"]. ruamel's pure-Python parser follows YAML 1.2; it is ~5x slower, so it
# only reads a file the C parser refused.
_YAML12_PARSER = YAML(typ="safe", pure=True)


def decode_source(raw: bytes, file: str) -> str:
    """Bytes to text: UTF-8 (a BOM is dropped); anything else is an error with its position."""
    if len(raw) > MAX_FILE_BYTES:
        raise ComposeError(
            f"file is {len(raw):,} bytes, over kompy's limit of {MAX_FILE_BYTES:,}",
            location=SourceLocation(file),
            hint="split the project into several files with include or -f",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ComposeError(
            f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})",
            location=SourceLocation(file, line, column),
            hint="save the file as UTF-8",
        ) from None
    if "\x00" in text:
        raise ComposeError(
            "file contains a NUL byte; it does not look like YAML",
            location=SourceLocation(file),
        )
    return text


def load_yaml(text: str, file: str) -> list[YamlDocument]:
    """Parse every document of a YAML text; an empty text gives an empty list."""
    try:
        return _load_with(_PARSER, text, file)
    except MarkedYAMLError as e:
        first = e
    try:
        return _load_with(_YAML12_PARSER, text, file)
    except MarkedYAMLError:
        # Both refuse it: report the C parser's message (the one the tests and hints know).
        raise _translate(first, file, text) from None


def _load_with(parser: YAML, text: str, file: str) -> list[YamlDocument]:
    docs: list[YamlDocument] = []
    try:
        events = iter(parser.parse(text))
        for event in events:
            if isinstance(event, DocumentStartEvent):
                builder = _Builder(file)
                data = builder.build(events)
                docs.append(YamlDocument(file, data, builder.positions))
            elif isinstance(event, (StreamStartEvent, StreamEndEvent)):
                continue
    except MarkedYAMLError:
        raise
    except YAMLError as e:
        raise ComposeError(f"invalid YAML: {e}", location=SourceLocation(file)) from None
    return docs


def _translate(e: MarkedYAMLError, file: str, text: str) -> ComposeError:
    mark = e.problem_mark or e.context_mark
    location = SourceLocation(file, mark.line + 1, mark.column + 1) if mark else None
    problem = e.problem or e.context or "invalid YAML"
    hint = None
    offending = text[mark.index] if mark is not None and 0 <= mark.index < len(text) else ""
    if offending == "\t" or "tab" in problem:
        hint = "YAML does not allow tabs for indentation; indent with spaces"
    elif "mapping values are not allowed" in problem:
        hint = "a value containing ': ' must be quoted"
    elif "found undefined alias" in problem:
        hint = "define the anchor (&name) before the alias (*name)"
    elif "could not find expected ':'" in problem or "expected <block end>" in problem:
        hint = "check the indentation of this line and the one above"
    return ComposeError(f"invalid YAML: {problem}", location=location, hint=hint)
