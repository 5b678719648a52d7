"""Text of ``kompy config``: the resolved project as stable YAML or JSON, or one of its lists.

YAML is written by kompy.yaml.writer in block style, in the key order the model gives
(sorted), so two runs give byte-identical output. Strings that a YAML reader would take for
something else (``'8080'``, ``'true'``, ``'yes'``, ``'1e3'``, ``''``) are quoted, so the
output reads back as the same values in kompy, Docker Compose and YAML 1.1 tools alike.
"""

from __future__ import annotations

import json
from typing import Any

from kompy.errors import Diagnostic
from kompy.model import Project
from kompy.yaml.writer import dump_document as dump_yaml


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
