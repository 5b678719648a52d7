"""``kompy check`` through the real command line, on copies of the bundled samples."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kompy.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding the webapp sample; the current directory is its root."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "samples" / "webapp", root)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    return root


def kompy(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *args])


def test_valid_project_without_manifests_folder(repo: Path) -> None:
    result = kompy()
    assert result.exit_code == 0, result.output
    assert "compose.yaml: valid (" in result.output


def test_fix_then_check_passes_and_a_change_makes_it_stale(repo: Path) -> None:
    result = kompy("--manifests", "k8s")
    assert result.exit_code == 1, result.output
    assert "missing: kompy generates it" in result.output
    result = kompy("--manifests", "k8s", "--fix")
    assert result.exit_code == 0, result.output
    assert "created k8s/" in result.output
    written = sorted(p.name for p in (repo / "k8s").iterdir())
    assert written
    assert kompy("--manifests", "k8s").exit_code == 0

    compose = repo / "compose.yaml"
    compose.write_text(compose.read_text().replace("replicas: 2", "replicas: 4", 1))
    result = kompy("--manifests", "k8s")
    assert result.exit_code == 1
    assert "-  replicas: 2\n+  replicas: 4\n" in result.output
    assert "hint: run `kompy check --fix`" in result.output


def test_no_longer_generated_files_are_removed_but_foreign_files_kept(repo: Path) -> None:
    assert kompy("--manifests", "k8s", "--fix").exit_code == 0
    before = {p.name for p in (repo / "k8s").iterdir()}
    (repo / "k8s" / "kustomization.yaml").write_text("resources: []\n")
    compose = repo / "compose.yaml"
    text = compose.read_text()
    start = text.index("\n  worker:\n")
    end = text.index("\n  cache:\n")
    compose.write_text(text[:start] + text[end:])
    result = kompy("--manifests", "k8s", "--fix")
    assert result.exit_code == 0, result.output
    after = {p.name for p in (repo / "k8s").iterdir()}
    removed = before - after
    assert removed and all("worker" in name for name in removed), removed
    assert "kustomization.yaml" in after


def test_compose_error_exits_2_with_file_and_line(repo: Path) -> None:
    compose = repo / "compose.yaml"
    lines = compose.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.startswith("    image: webapp-web"))
    lines[number] = "    imagee: webapp-web:dev\n"
    compose.write_text("".join(lines))
    result = kompy()
    assert result.exit_code == 2, result.output
    assert f"compose.yaml:{number + 1}:" in result.output
    assert "invalid" in result.output


def test_configuration_is_read_from_kompy_toml(repo: Path) -> None:
    (repo / ".kompy.toml").write_text('manifests = "deploy"\nnamespace = "shop"\n')
    assert kompy("--fix").exit_code == 0
    texts = [p.read_text() for p in (repo / "deploy").iterdir()]
    namespaced = [t for t in texts if "kind: Namespace" not in t]
    assert namespaced and all("namespace: shop" in t for t in namespaced)
    assert (repo / "deploy" / "00-shop-namespace.yaml").exists()
    assert kompy().exit_code == 0


def test_unknown_configuration_key_exits_2(repo: Path) -> None:
    (repo / ".kompy.toml").write_text('manifest = "k8s"\n')
    result = kompy()
    assert result.exit_code == 2
    assert ".kompy.toml:1: manifest: unknown key" in result.output
    assert "did you mean 'manifests'?" in result.output


def test_files_outside_the_repository_are_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "compose.yaml"
    outside.write_text("services: {}\n")
    result = kompy("-f", str(outside))
    assert result.exit_code == 2
    assert "outside the repository" in result.output


def test_exit_non_zero_on_fix_needs_fix(repo: Path) -> None:
    result = kompy("--exit-non-zero-on-fix")
    assert result.exit_code == 2
    assert "needs --fix" in result.output


def test_kompy_convert_writes_the_layout_check_expects(repo: Path) -> None:
    converted = CliRunner().invoke(main, ["convert", "-o", "k8s"])
    assert converted.exit_code == 0, converted.output
    result = kompy("--manifests", "k8s")
    assert result.exit_code == 0, result.output
    assert "are up to date" in result.output


def test_secret_values_headed_for_the_repository_are_warned_about(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "samples" / "configs-secrets", root)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["check", "--manifests", "k8s", "--fix"])
    assert result.exit_code == 0, result.output
    assert "warning: k8s/db-password-secret.yaml holds the value of Secret db-password" in (
        result.output)
    assert "sample-db-password" not in result.output  # the warning never shows the value
    # Without a manifests folder nothing is committed: no warning.
    assert "holds the value" not in CliRunner().invoke(main, ["check"]).output
