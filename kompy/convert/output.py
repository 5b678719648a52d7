"""Conversion output as text: one file per object, or one stream; YAML or JSON.

The only module that writes YAML for the converter (ruamel.yaml's C emitter). Output is
deterministic: keys keep the order templates wrote them in, nothing depends on time or on
the machine, so the same project gives byte-identical output.

Strings that a YAML 1.1 reader would take for something else ("yes", "on", "0755",
"1_000", "12:30") are quoted: kubectl and Helm read YAML 1.1-style through go-yaml v2.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import SafeRepresenter

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


class _Representer(SafeRepresenter):
    """Keeps key order, never emits anchors, quotes ambiguous strings, uses | for multi-line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sort_base_mapping_type_on_output = False

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_str(self, data: str) -> Any:
        style = None
        if "\n" in data:
            style = "|"
        elif data == "" or _AMBIGUOUS.match(data):
            style = "'"
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Representer.add_representer(str, _Representer.represent_str)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=False)
    yaml.Representer = _Representer
    yaml.default_flow_style = False
    yaml.width = 1 << 16  # no folding of long strings: one value, one line
    yaml.explicit_start = True
    return yaml


def dump_yaml(objects: list[dict[str, Any]]) -> str:
    """Objects as one YAML stream of documents, each starting with ``---``."""
    if not objects:
        return ""
    buffer = io.StringIO()
    _yaml().dump_all(objects, buffer)
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
