"""--report FILE.json: what became of each Compose key (kompy/convert/report.py)."""

from __future__ import annotations

import json
from pathlib import Path

from kompy.convert import Conversion, convert
from kompy.convert.context import KeyReport
from kompy.convert.options import ConvertOptions
from kompy.convert.report import report_document, write_report
from kompy.errors import SourceLocation
from kompy.model import PortMapping, Project, Service

REPO = Path(__file__).resolve().parents[3]


def _project() -> Project:
    return Project(name="shop", working_dir="/p", services={
        "web": Service("web", image="nginx", ports=(PortMapping(80, published="8080"),)),
        "web.v2": Service("web.v2", image="nginx", restart="always")})


def test_records_grouped_by_service_with_relative_files_and_summary() -> None:
    conversion = Conversion(objects=[], report=[
        KeyReport("services.web.ports[0]", "mapped", "Service/web spec.ports", None,
                  SourceLocation("/p/compose.yaml", 7, 5)),
        KeyReport("services.web.v2.restart", "approximated", "Deployment/web-v2", "why"),
        KeyReport("volumes.data", "mapped", "PersistentVolumeClaim/data"),
        KeyReport("services.web.image", "mapped", "Deployment/web containers[0].image", None,
                  SourceLocation("/p/compose.yaml", 6, 5)),
    ])
    doc = report_document(_project(), conversion)
    assert doc["version"] == 1 and doc["project"] == "shop"
    web = doc["services"]["web"]
    assert [e["key"] for e in web["keys"]] == ["services.web.image", "services.web.ports[0]"]
    assert web["keys"][1] == {"key": "services.web.ports[0]", "status": "mapped",
                              "target": "Service/web spec.ports", "file": "compose.yaml",
                              "line": 7}
    assert doc["services"]["web.v2"]["keys"][0]["note"] == "why"
    assert doc["services"]["web.v2"]["unaccounted"] == ["image"]
    assert web["unaccounted"] == []
    assert doc["project_keys"] == [{"key": "volumes.data", "status": "mapped",
                                    "target": "PersistentVolumeClaim/data"}]
    assert doc["summary"] == {"mapped": 3, "approximated": 1, "dropped": 0, "unaccounted": 1}


def test_report_of_a_sample_is_complete_and_deterministic(tmp_path: Path) -> None:
    from kompy.compose.loader import LoadOptions, load_project

    sample = REPO / "samples" / "webapp"
    project = load_project(LoadOptions(project_directory=str(sample), environ={}))
    conversion = convert(project, ConvertOptions())
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_report(first, project, conversion)
    write_report(second, project, convert(project, ConvertOptions()))
    assert first.read_bytes() == second.read_bytes()
    doc = json.loads(first.read_text())
    for name, block in doc["services"].items():
        assert block["keys"], f"no key of {name} was recorded"
        for entry in block["keys"]:
            assert entry["status"] in ("mapped", "approximated", "dropped")
            assert not entry.get("file", "").startswith("/")
        ports = [e for e in block["keys"] if e["key"].startswith(f"services.{name}.ports")]
        if project.services[name].ports:
            assert any(e.get("target", "").startswith(f"Service/{name}") for e in ports)


def test_render_report_without_project_groups_by_key() -> None:
    from kompy.convert.report import render_report

    conversion = Conversion(objects=[], report=[
        KeyReport("services.web.image", "mapped", "Deployment/web"),
        KeyReport("volumes.data", "dropped", None, "why")])
    doc = json.loads(render_report(conversion))
    assert list(doc["services"]) == ["web"]
    assert doc["project_keys"][0]["key"] == "volumes.data"
    assert doc["summary"]["dropped"] == 1
