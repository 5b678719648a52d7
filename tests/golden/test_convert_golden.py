"""Golden files of `kompy convert`: each case folder holds a Compose project (compose.yaml, or
`files` in convert.json naming a sample), convert.json (options) and expected/ (one file per
object plus warnings.txt). `pytest --update-golden` rewrites expected/.

The expected files are also validated here with kubernetes-validate's own (jsonschema)
validator in strict mode, independently of the compiled validator convert() uses.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kompy.compose.loader import LoadOptions, load_project
from kompy.convert import convert
from kompy.convert.options import ConvertOptions
from kompy.convert.output import render_files
from kompy.errors import Diagnostic

HERE = Path(__file__).resolve().parent
CASES = sorted(p.parent.name for p in HERE.glob("*/convert.json"))


def _run(case: Path) -> dict[str, str]:
    spec: dict[str, Any] = json.loads((case / "convert.json").read_text())
    files = tuple(str((case / f).resolve()) for f in spec.get("files", ["compose.yaml"]))
    diagnostics: list[Diagnostic] = []
    project = load_project(
        LoadOptions(files=files, environ=spec.get("env", {}), cwd=str(case)), diagnostics
    )
    conversion = convert(project, ConvertOptions(**spec.get("options", {})))
    out = render_files(conversion, spec.get("format", "yaml"))
    root = str(Path(files[0]).parent) + "/"
    # Messages show a file inside the current folder relative to it (kompy.errors).
    roots = (root, os.path.relpath(root) + "/")
    warnings = [d.format().replace(roots[0], "").replace(roots[1], "")
                for d in [*diagnostics, *conversion.diagnostics]]
    out["warnings.txt"] = "".join(f"{w}\n" for w in warnings)
    return out


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, update_golden: bool) -> None:
    case = HERE / name
    expected_dir = case / "expected"
    actual = _run(case)
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        expected_dir.mkdir()
        for file, text in actual.items():
            (expected_dir / file).write_text(text)
    expected = {p.name: p.read_text() for p in sorted(expected_dir.iterdir())}
    assert sorted(actual) == sorted(expected), "files differ (run pytest --update-golden)"
    for file in sorted(expected):
        assert actual[file] == expected[file], f"{name}/expected/{file} differs"


@pytest.mark.parametrize("name", CASES)
def test_golden_output_is_strictly_valid(name: str) -> None:
    import kubernetes_validate

    from kompy.convert.validate import supported_versions

    yaml = YAML(typ="safe", pure=False)
    version = supported_versions()[-1]
    objects = 0
    for path in sorted((HERE / name / "expected").glob("*.yaml")):
        for obj in yaml.load_all(path.read_text()):
            kubernetes_validate.validate(obj, version, strict=True)
            objects += 1
    assert objects > 0


@pytest.mark.parametrize("name", CASES)
def test_golden_output_reads_the_same_in_go(name: str, tmp_path: Path) -> None:
    """kubectl's kustomize (Go YAML) reads the expected files into the same objects."""
    import subprocess

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    yaml = YAML(typ="safe", pure=False)
    files = sorted((HERE / name / "expected").glob("*.yaml"))
    ours = [obj for path in files for obj in yaml.load_all(path.read_text())]
    for path in files:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"- {path.name}\n" for path in files))
    done = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = [obj for obj in yaml.load_all(done.stdout) if obj]

    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return (obj["kind"], obj["metadata"]["name"])

    assert sorted(theirs, key=key) == sorted(ours, key=key)
