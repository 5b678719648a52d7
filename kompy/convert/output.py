"""Conversion output as text: one file per object, or one stream; YAML or JSON.

YAML goes through kompy.yaml.writer (deterministic, YAML 1.1-safe quoting); keys keep the
order templates wrote them in, so the same project gives byte-identical output.
"""

from __future__ import annotations

import json
from typing import Any

from kompy.convert.conversion import Conversion
from kompy.yaml.writer import dump_documents as dump_yaml

__all__ = ["dump_json", "dump_yaml", "file_name", "render_files", "render_stream"]


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def file_name(obj: dict[str, Any], fmt: str) -> str:
    """Kompose's naming: "<name>-<kind>.yaml" (web-deployment.yaml, web-service.yaml)."""
    name = str(obj.get("metadata", {}).get("name", "object"))
    kind = str(obj.get("kind", "object")).lower()
    if kind == "namespace":
        # `kubectl apply -f DIR` applies files in name order and does not put Namespaces
        # first: "00-" sorts before every Compose service name but those starting "0-"/"00".
        name = f"00-{name}"
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
