"""Reading Kubernetes manifests for ``kompy apply -f`` / ``kompy delete -f``.

Files, folders (their ``.yaml``, ``.yml`` and ``.json`` files, sorted, not recursive, as
kubectl without ``-R``) or ``-`` for standard input; multi-document YAML, JSON, and ``*List``
kinds (``v1/List`` as ``kubectl get -o yaml`` prints) unpacked into their items.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.errors import KeyPath, SourceLocation, UserError
from kompy.yaml.reader import YamlDocument, decode_source, load_yaml

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Manifest:
    obj: dict[str, Any]
    location: SourceLocation


def _files(target: str) -> list[Path]:
    path = Path(target)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not found:
            raise UserError(f"{target}: no .yaml, .yml or .json files in this folder")
        return found
    if not path.exists():
        raise UserError(f"{target}: no such file or folder")
    return [path]


def read(targets: tuple[str, ...] | list[str]) -> list[Manifest]:
    out: list[Manifest] = []
    for target in targets:
        if target == "-":
            out += parse(sys.stdin.buffer.read(), "<stdin>")
            continue
        for path in _files(target):
            try:
                raw = path.read_bytes()
            except OSError as e:
                raise UserError(f"{path}: cannot read: {e.strerror}") from e
            out += parse(raw, str(path))
    return out


def parse(raw: bytes, file: str) -> list[Manifest]:
    out: list[Manifest] = []
    for doc in load_yaml(decode_source(raw, file), file):
        _collect(doc, doc.data, (), out)
    return out


def _where(doc: YamlDocument, path: KeyPath) -> SourceLocation:
    """Where an object starts: its first key's position (the document's own has none)."""
    marks = [mark for key, mark in doc.positions.items()
             if len(key) == len(path) + 1 and key[:len(path)] == path]
    if marks:
        line, column = min(marks)
        return SourceLocation(doc.file, line, column)
    return doc.location(path) or SourceLocation(doc.file)


def _collect(doc: YamlDocument, data: Any, path: KeyPath, out: list[Manifest]) -> None:
    if data is None:
        return
    location = _where(doc, path)
    if not isinstance(data, dict):
        raise UserError("a manifest must be a mapping with apiVersion, kind and metadata",
                        location=location)
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        for index, item in enumerate(data["items"]):
            _collect(doc, item, (*path, "items", index), out)
        return
    if not kind or not data.get("apiVersion"):
        raise UserError("the manifest has no kind or apiVersion", location=location,
                        hint="every Kubernetes object starts with apiVersion: and kind:")
    out.append(Manifest(data, location))
