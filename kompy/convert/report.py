"""``kompy convert --report FILE.json``: a machine-readable account of every Compose key.

The builders record, per key, what it became (``ConvertContext.record``): ``mapped`` (to
which object and field), ``approximated`` (mapped with a loss, explained in ``note``) or
``dropped`` (no Kubernetes meaning; also a warning). This module arranges those records by
service and adds, for each service, the keys present in its Compose definition that no
builder accounted for (``unaccounted``: a gap in kompy, worth a bug report), so the file
answers "what happened to each key of each service?".

Document (``version`` 1)::

    {"version": 1, "kompy": "0.1.0", "project": "shop",
     "summary": {"mapped": 12, "approximated": 2, "dropped": 1, "unaccounted": 0},
     "services": {"web": {"keys": [{"key": "services.web.ports[0]", "status": "mapped",
                                    "target": "Service/web spec.ports", "file": "compose.yaml",
                                    "line": 7}, ...],
                          "unaccounted": []}},
     "project_keys": [...]}          # records outside services (volumes, configs, ...)

File names are relative to the project folder, so the report is the same on every machine.
Notes name keys and objects, never values (secret values cannot leak through it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from kompy import __version__
from kompy.convert.context import REPORT_STATUSES, KeyReport
from kompy.convert.conversion import Conversion
from kompy.fsutil import write_atomic
from kompy.model import Project, Service

REPORT_VERSION = 1
_SERVICE_KEY = re.compile(r"^services\.([^.\[]+)(?:[.\[](.*))?$")
# Keys every service has in its long form that are not settings of their own.
_IMPLICIT = frozenset({"name"})


def report_document(project: Project, conversion: Conversion) -> dict[str, Any]:
    """The report as plain data (see the module documentation for its shape)."""
    services: dict[str, dict[str, Any]] = {
        name: {"keys": [], "unaccounted": []} for name in project.services}
    project_keys: list[dict[str, Any]] = []
    summary = dict.fromkeys(REPORT_STATUSES, 0)
    for record in conversion.report:
        entry = _entry(project, record)
        summary[record.status] = summary.get(record.status, 0) + 1
        service = _service_of(record.key, project)
        if service is None:
            project_keys.append(entry)
        else:
            services[service]["keys"].append(entry)
    for name, block in services.items():
        block["keys"].sort(key=_sort_key)
        block["unaccounted"] = _unaccounted(project, name, block["keys"])
        summary["unaccounted"] = summary.get("unaccounted", 0) + len(block["unaccounted"])
    project_keys.sort(key=_sort_key)
    return {"version": REPORT_VERSION, "kompy": __version__, "project": project.name,
            "summary": summary, "services": services, "project_keys": project_keys}


def report_json(project: Project, conversion: Conversion) -> str:
    return json.dumps(report_document(project, conversion), indent=2, ensure_ascii=False) + "\n"


def render_report(conversion: Conversion, project: Project | None = None) -> str:
    """The report's text. Without ``project`` the services are taken from the records' keys
    (a service name containing "." is then cut at the dot) and ``unaccounted`` is empty."""
    if project is None:
        names: dict[str, Service] = {}
        for record in conversion.report:
            match = _SERVICE_KEY.match(record.key)
            if match:
                names.setdefault(match.group(1), Service(match.group(1)))
        project = _NoKeys(name="", working_dir="", services=names)
    return report_json(project, conversion)


class _NoKeys(Project):
    """A stand-in project for render_report without one: its services list no keys."""


def write_report(path: str | Path, project: Project, conversion: Conversion) -> None:
    """Write the report atomically (kompy.fsutil)."""
    write_atomic(Path(path), report_json(project, conversion))


def _entry(project: Project, record: KeyReport) -> dict[str, Any]:
    entry = record.to_dict()
    if "file" in entry:
        entry["file"] = _relative(str(entry["file"]), project.working_dir)
    return entry


def _relative(path: str, base: str) -> str:
    if not os.path.isabs(path) or not base:
        return path
    rel = os.path.relpath(path, base)
    return path if rel.startswith("..") else rel


def _service_of(key: str, project: Project) -> str | None:
    match = _SERVICE_KEY.match(key)
    if match is None:
        return None
    # Service names may contain dots: take the longest declared name the key starts with.
    rest = key[len("services."):]
    matches = [name for name in project.services
               if rest == name or rest.startswith((name + ".", name + "["))]
    return max(matches, key=len) if matches else None


def _top_key(key: str, service: str) -> str:
    rest = key[len(f"services.{service}"):].lstrip(".")
    return re.split(r"[.\[]", rest, maxsplit=1)[0]


def _sort_key(entry: dict[str, Any]) -> tuple[str, int, str]:
    return (str(entry.get("file", "")), int(entry.get("line", 0)), str(entry["key"]))


def _unaccounted(project: Project, name: str, entries: list[dict[str, Any]]) -> list[str]:
    """Top-level keys of the service's Compose definition no record mentions."""
    if isinstance(project, _NoKeys):
        return []
    present = set(project.services[name].to_compose())
    seen = {_top_key(str(entry["key"]), name) for entry in entries}
    return sorted(key for key in present - seen - _IMPLICIT if not key.startswith("x-"))
