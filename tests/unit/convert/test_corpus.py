"""Every awesome-compose project of the shared corpus converts, and its output is strictly valid.

The corpus holds only the Compose files; a tmp copy gets what the real repositories have
next to them (build contexts with a Dockerfile, secret and config files, bind-mount
sources), so a failure here is kompy's, not a missing file's.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kompy.compose.loader import LoadOptions, load_project
from kompy.convert import convert
from kompy.convert.options import ConvertOptions
from kompy.convert.output import render_stream

VARIANTS = {
    "default": ConvertOptions(),
    "statefulsets-policies": ConvertOptions(controller="auto", network_policies=True,
                                            volumes="emptyDir", namespace="corpus"),
    "hostpath-json": ConvertOptions(volumes="hostPath", replicas=2, service_type="nodeport"),
}


def _projects(corpus: Path) -> list[Path]:
    return sorted(p.parent for p in (corpus / "awesome-compose").glob("*/compose.yaml"))


def _materialise(source: Path, tmp: Path) -> Path:
    """Copy the project and create the files it refers to, as its repository would have."""
    project = tmp / source.name
    shutil.copytree(source, project)
    data: Any = YAML(typ="safe").load((project / "compose.yaml").read_text())
    for section in ("secrets", "configs"):
        for definition in (data.get(section) or {}).values():
            if isinstance(definition, dict) and definition.get("file"):
                path = project / definition["file"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{section}-value\n")
    for service in (data.get("services") or {}).values():
        build = service.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        if context:
            folder = project / context
            folder.mkdir(parents=True, exist_ok=True)
            dockerfile = (build.get("dockerfile") if isinstance(build, dict) else None)
            (folder / (dockerfile or "Dockerfile")).write_text("FROM scratch\n")
        for volume in service.get("volumes") or []:
            text = volume if isinstance(volume, str) else str(volume.get("source", ""))
            source_path = text.split(":")[0]
            if source_path.startswith((".", "/")) and not source_path.startswith("/var/run"):
                path = project / source_path if source_path.startswith(".") else None
                if path is not None and not path.exists():
                    path.mkdir(parents=True)
    return project


def test_every_awesome_compose_project_converts_and_validates(corpus: Path,
                                                              tmp_path: Path) -> None:
    import kubernetes_validate

    from kompy.convert.validate import supported_versions

    projects = _projects(corpus)
    assert len(projects) >= 20
    version = supported_versions()[-1]
    yaml = YAML(typ="safe", pure=False)
    failures: list[str] = []
    for source in projects:
        project_dir = _materialise(source, tmp_path)
        project = load_project(LoadOptions(files=(str(project_dir / "compose.yaml"),),
                                           environ={}, cwd=str(project_dir)))
        for variant, options in VARIANTS.items():
            try:
                conversion = convert(project, options)
            except Exception as exc:  # noqa: BLE001 - collect every failure
                failures.append(f"{source.name} [{variant}]: {exc}")
                continue
            assert conversion.objects, source.name
            kinds = {o["kind"] for o in conversion.objects}
            assert kinds & {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
            if variant != "default":
                continue
            # Cross-check the compiled validator with kubernetes-validate's own, strict.
            for obj in yaml.load_all(render_stream(conversion)):
                kubernetes_validate.validate(obj, version, strict=True)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_corpus_output_is_deterministic(corpus: Path, tmp_path: Path, fmt: str) -> None:
    """Two conversions of the same projects give byte-identical text."""
    for source in _projects(corpus)[:8]:
        project_dir = _materialise(source, tmp_path / fmt)
        texts = []
        for _ in range(2):
            project = load_project(LoadOptions(files=(str(project_dir / "compose.yaml"),),
                                               environ={}, cwd=str(project_dir)))
            texts.append(render_stream(convert(project, ConvertOptions()), fmt))
        assert texts[0] == texts[1], source.name


def test_every_compose_go_fixture_that_loads_converts(corpus: Path) -> None:
    """compose-go's loader fixtures are not runnable projects (placeholder images, absent
    files), but each one kompy loads must convert to valid objects or fail as a user error
    naming its cause; never an internal error."""
    from kompy.errors import KompyError, UserError

    converted, refused = [], {}
    for path in sorted((corpus / "compose-go-testdata").rglob("*.y*ml")):
        try:
            project = load_project(LoadOptions(files=(str(path),), environ={},
                                               cwd=str(path.parent)))
        except KompyError:
            continue  # the loader's verdict: tests/unit/compose/test_loader.py
        try:
            conversion = convert(project, ConvertOptions(namespace="corpus"))
        except UserError as error:
            refused[str(path.relative_to(corpus))] = error.format()
            continue
        assert conversion.objects[0]["kind"] == "Namespace"
        converted.append(path)
    assert len(converted) >= 25, refused
    assert not refused, refused
