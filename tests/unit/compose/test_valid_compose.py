"""Valid Compose files that must load exactly as `docker compose config` (compose-go) reads
them (issue #9, class 9): flow-sequence scalars with colons, `healthcheck: {test: []}`, and
Windows bind sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.compose.loader import LoadOptions, load_project, project_to_compose
from kompy.errors import ComposeError
from kompy.model.volumes import is_windows_abs, split_volume_spec
from kompy.yaml.reader import load_yaml


def config(root: Path, text: str) -> dict[str, Any]:
    (root / "compose.yaml").write_text(text)
    project = load_project(LoadOptions(cwd=str(root), files=("compose.yaml",), environ={}))
    return project_to_compose(project)


@pytest.mark.parametrize(("text", "expected"), [
    ("a: [8080:80]", ["8080:80"]),
    ("a: [data:/data, 'x']", ["data:/data", "x"]),
    ("a: [h:1.2.3.4]", ["h:1.2.3.4"]),
    ("a: [a: b]", [{"a": "b"}]),  # ": " still makes a single-pair mapping, as in YAML 1.2
])
def test_flow_scalars_may_contain_colons(text: str, expected: list[Any]) -> None:
    # libyaml (YAML 1.1) refuses these; Go's yaml.v3, which Compose uses, reads them.
    assert load_yaml(text, "c.yaml")[0].data["a"] == expected


def test_the_yaml_1_2_fallback_keeps_positions_and_tags() -> None:
    doc = load_yaml("a: [8080:80]\nb: !reset [x]\n", "c.yaml")[0]
    assert doc.positions[("a", 0)] == (1, 5)
    assert doc.data["b"].tag == "!reset"


def test_yaml_both_parsers_refuse_reports_the_position() -> None:
    with pytest.raises(ComposeError) as caught:
        load_yaml("a: [8080:80\nb: c\n", "c.yaml")
    assert caught.value.location is not None and caught.value.location.line >= 1


def test_flow_sequences_of_the_issue_load_as_compose_resolves_them(tmp_path: Path) -> None:
    out = config(tmp_path, "services:\n  web:\n    image: nginx\n    ports: [8080:80]\n"
                           "    volumes: [data:/data]\n    extra_hosts: [h:1.2.3.4]\n"
                           "volumes:\n  data: {}\n")
    web = out["services"]["web"]
    assert web["ports"] == [{"mode": "ingress", "protocol": "tcp", "published": "8080",
                             "target": 80}]
    assert web["volumes"] == [{"source": "data", "target": "/data", "type": "volume",
                               "volume": {}}]
    assert web["extra_hosts"] == ["h=1.2.3.4"]


def test_empty_healthcheck_test_is_omitted(tmp_path: Path) -> None:
    # compose-go: an empty HealthCheckTest, omitted by `config` (the image's HEALTHCHECK stays).
    out = config(tmp_path, "services:\n  web:\n    image: nginx\n"
                           "    healthcheck: {test: [], interval: 5s}\n")
    assert out["services"]["web"]["healthcheck"] == {"interval": "5s"}


@pytest.mark.parametrize(("spec", "parts"), [
    ("C:\\data:/data", ["C:\\data", "/data"]),
    ("c:/data:/data:ro", ["c:/data", "/data", "ro"]),
    ("data:/data", ["data", "/data"]),
    ("/a:/b", ["/a", "/b"]),
])
def test_volume_specs_split_as_compose_go(spec: str, parts: list[str]) -> None:
    assert split_volume_spec(spec) == parts


@pytest.mark.parametrize(("path", "absolute"), [
    ("C:\\", True), ("c:\\a\\b", True), ("c:/a/b", True), ("\\\\host\\share", True),
    ("//host/share", True), ("c:", False), ("c:a\\b", False), ("/", False), ("lala", False),
])
def test_windows_absolute_paths_as_compose_go(path: str, absolute: bool) -> None:
    assert is_windows_abs(path) is absolute  # compose-go paths/windows_path_test.go


def test_windows_bind_source_is_kept(tmp_path: Path) -> None:
    out = config(tmp_path, "services:\n  win:\n    image: nginx\n"
                           "    volumes:\n      - C:\\data:/data\n"
                           "      - type: bind\n        source: D:/x\n        target: /x\n")
    volumes = out["services"]["win"]["volumes"]
    assert [(v["type"], v["source"], v["target"]) for v in volumes] == [
        ("bind", "C:\\data", "/data"), ("bind", "D:/x", "/x")]
