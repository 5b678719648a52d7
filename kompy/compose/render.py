"""Text of ``kompy config``: the resolved project as stable YAML or JSON, or one of its lists.

YAML is written with ruamel.yaml in block style, in the key order the model gives (sorted),
so two runs give byte-identical output. Strings that a YAML reader would take for something
else (``"8080"``, ``"true"``, ``"yes"``, ``"1e3"``, ``""``) are double-quoted, so the output
reads back as the same values in kompy, Docker Compose and YAML 1.1 tools alike.
"""

from __future__ import annotations

import io
import json
import re
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

from kompy.compose.yaml_reader import resolve_plain_scalar
from kompy.errors import Diagnostic
from kompy.model import Project

# YAML 1.1 booleans and nulls that YAML 1.2 readers take as strings: quoted for old readers.
_YAML11_WORDS = frozenset(
    w for base in ("y", "yes", "n", "no", "on", "off", "true", "false", "null", "~")
    for w in (base, base.capitalize(), base.upper())
)


# YAML 1.1 sexagesimal numbers ("1:30" is 90 to PyYAML) and timestamps.
_YAML11_OTHER = re.compile(
    r"[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")


@lru_cache(maxsize=65536)
def _needs_quotes(text: str) -> bool:
    if not text or text in _YAML11_WORDS or text != text.strip():
        return True
    if _YAML11_OTHER.fullmatch(text):
        return True
    return not isinstance(resolve_plain_scalar(text), str)


def _scalar(value: Any) -> tuple[str, str | None]:
    """Text and style of a scalar; style None is plain."""
    if isinstance(value, str):
        if "\n" in value:
            return value, "|"
        return value, ('"' if _needs_quotes(value) else None)
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, float):
        text = repr(value)
        if text in ("inf", "-inf", "nan"):
            return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text], None
        return text, None
    if isinstance(value, int):
        return str(value), None
    return str(value), '"'


def _events(value: Any, out: list[Any]) -> None:
    """Append the ruamel.yaml events of plain data, in the data's own (sorted) key order.

    The model's output is a few levels deep, so recursion is safe here.
    """
    if isinstance(value, dict):
        out.append(MappingStartEvent(None, None, True, flow_style=not value))
        for key, item in value.items():
            _events(str(key), out)
            _events(item, out)
        out.append(MappingEndEvent())
    elif isinstance(value, (list, tuple)):
        out.append(SequenceStartEvent(None, None, True, flow_style=not value))
        for item in value:
            _events(item, out)
        out.append(SequenceEndEvent())
    else:
        text, style = _scalar(value)
        out.append(ScalarEvent(None, None, (style is None, style is not None), text,
                               style=style))


def dump_yaml(data: Any) -> str:
    """Block-style YAML through ruamel.yaml's C emitter, fed events directly: the
    representer would cost ten times more on large projects and adds anchors for shared
    values."""
    from ruamel.yaml import YAML

    events: list[Any] = [StreamStartEvent(), DocumentStartEvent(explicit=False)]
    _events(data, events)
    events += [DocumentEndEvent(explicit=False), StreamEndEvent()]
    yaml = YAML(typ="safe", pure=False)
    yaml.width = 4096
    yaml.allow_unicode = True
    stream = io.StringIO()
    yaml.emit(events, stream)
    return stream.getvalue()


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=list) + "\n"


def _listing(project: Project, what: str) -> list[str]:
    if what == "services":
        return sorted(project.services)
    if what == "volumes":
        return sorted(project.volumes)
    if what == "profiles":
        return sorted({p for s in project.services.values() for p in s.profiles})
    images = []
    for name, service in sorted(project.services.items()):
        # Compose names an image it builds <project>-<service> when image: is not given.
        images.append(service.image or f"{project.name}-{name}")
    return images


def render_config(options: dict[str, Any], fmt: str, listing: str | None,
                  diagnostics: list[Diagnostic], quiet: bool = False) -> str:
    """Load the project described by ``LoadOptions`` fields and render it for printing
    (nothing when ``quiet``: only the loading and its errors matter)."""
    from kompy.compose.loader import LoadOptions, load_project, project_to_compose

    project = load_project(LoadOptions(**options), diagnostics)
    if quiet:
        return ""
    if listing is not None:
        lines = _listing(project, listing)
        return "".join(f"{line}\n" for line in lines)
    data = project_to_compose(project)
    return dump_json(data) if fmt == "json" else dump_yaml(data)
