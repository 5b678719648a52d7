"""``kompy convert`` through the real command line: destinations, formats, exit codes, and
nothing half-written on error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from kompy import __version__
from kompy.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI's compiled-validator cache goes to a temp folder, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def project(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the database sample; the current directory is its folder."""
    root = tmp_path / "notes"
    shutil.copytree(REPO / "samples" / "database", root)
    monkeypatch.chdir(root)
    return root


def kompy(*args: str) -> Result:
    return CliRunner().invoke(main, ["convert", *args])


def _docs(text: str) -> list[dict[str, object]]:
    return [d for d in YAML(typ="safe").load_all(text) if d]


def test_stdout_by_default(project: Path, tmp_path: Path) -> None:
    from kompy.convert.validate import validator

    validator.cache_clear()  # earlier tests in this process compiled them already
    result = kompy()
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "cache" / "kompy" / "validators").iterdir())
    kinds = sorted(str(d["kind"]) for d in _docs(result.stdout))
    assert kinds == ["Deployment", "Deployment", "PersistentVolumeClaim", "Service", "Service"]


def test_out_dir_one_file_per_object_with_stable_names(project: Path) -> None:
    result = kompy("-o", "k8s")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (project / "k8s").iterdir())
    assert names == ["db-data-persistentvolumeclaim.yaml", "db-deployment.yaml",
                     "db-service.yaml", "notes-deployment.yaml", "notes-service.yaml"]
    assert result.stdout == ""
    before = {p.name: p.read_bytes() for p in (project / "k8s").iterdir()}
    assert kompy("-o", "k8s/").exit_code == 0
    assert before == {p.name: p.read_bytes() for p in (project / "k8s").iterdir()}


def test_out_file_is_one_multi_document_stream(project: Path) -> None:
    result = kompy("-o", "all.yaml")
    assert result.exit_code == 0, result.output
    assert len(_docs((project / "all.yaml").read_text())) == 5


def test_json_list_and_json_files(project: Path) -> None:
    result = kompy("-j")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["kind"] == "List" and len(listing["items"]) == 5
    assert kompy("--format", "json", "-o", "out").exit_code == 0
    assert sorted(p.suffix for p in (project / "out").iterdir()) == [".json"] * 5


def test_stdout_flag_wins_over_out(project: Path) -> None:
    result = kompy("-o", "k8s", "--stdout")
    assert result.exit_code == 0
    assert not (project / "k8s").exists()
    assert "kind: Deployment" in result.stdout


def test_invalid_compose_exits_2_and_writes_nothing(project: Path) -> None:
    (project / "compose.yaml").write_text("services:\n  web:\n    image: [1, 2\n")
    result = kompy("-o", "k8s")
    assert result.exit_code == 2
    assert "compose.yaml:" in result.stderr
    assert not (project / "k8s").exists()


def test_a_hook_whose_quotes_do_not_balance_is_a_load_error(project: Path) -> None:
    """As a bad `command:`: exit 2, file:line:column, the key and a hint; nothing written."""
    (project / "compose.yaml").write_text(
        "services:\n  web:\n    image: x\n    pre_stop:\n      - command: echo 'bye\n")
    result = kompy("-o", "k8s")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: compose.yaml:5:9: services.web.pre_stop[0].command: cannot split \"echo 'bye\" "
        "into words: No closing quotation",
        "  hint: check the quotes, or write the command as a list"]
    assert not (project / "k8s").exists()


def test_bad_label_exits_2_naming_file_and_line(project: Path) -> None:
    text = (project / "compose.yaml").read_text()
    (project / "compose.yaml").write_text(
        text.replace("kompose.volume.size: 1Gi", "kompose.volume.size: lots"))
    result = kompy()
    assert result.exit_code == 2
    assert "compose.yaml:41:7:" in result.stderr
    assert "kompose.volume.size" in result.stderr


def test_broken_user_template_names_file_and_line(project: Path) -> None:
    templates = project / "tpl"
    templates.mkdir()
    (templates / "pvc.yaml.j2").write_text(
        "apiVersion: v1\nkind: {{ claim.nosuchfield | value }}\n")
    (project / "k8s").mkdir()
    (project / "k8s" / "keep.txt").write_text("old")
    result = kompy("--templates", "tpl", "-o", "k8s")
    assert result.exit_code == 2, result.output
    assert "error: tpl/pvc.yaml.j2:2:" in result.stderr  # as typed: relative to the folder
    assert "nosuchfield" in result.stderr
    assert [p.name for p in (project / "k8s").iterdir()] == ["keep.txt"]


def test_template_syntax_error_names_line(project: Path) -> None:
    (project / "tpl").mkdir()
    (project / "tpl" / "pvc.yaml.j2").write_text("a: 1\nb: {% if %}\n")
    result = kompy("--templates", "tpl")
    assert result.exit_code == 2
    assert "pvc.yaml.j2:2:" in result.stderr and "syntax" in result.stderr


def test_user_template_producing_invalid_object_is_internal_error(project: Path) -> None:
    (project / "tpl").mkdir()
    original = (REPO / "templates" / "pvc.yaml.j2").read_text()
    (project / "tpl" / "pvc.yaml.j2").write_text(original + "  bogusField: 1\n")
    result = kompy("--templates", "tpl", "-o", "k8s")
    assert result.exit_code == 1, result.output
    assert "PersistentVolumeClaim/db-data" in result.stderr
    assert "pvc.yaml.j2" in result.stderr and "bogusField" in result.stderr
    assert not (project / "k8s").exists()


def test_user_template_override_is_used(project: Path) -> None:
    (project / "tpl").mkdir()
    original = (REPO / "templates" / "pvc.yaml.j2").read_text()
    (project / "tpl" / "pvc.yaml.j2").write_text(
        original.replace("  accessModes:", "  volumeMode: Filesystem\n  accessModes:"))
    result = kompy("--templates", "tpl")
    assert result.exit_code == 0, result.output
    pvc = [d for d in _docs(result.stdout) if d["kind"] == "PersistentVolumeClaim"][0]
    assert pvc["spec"]["volumeMode"] == "Filesystem"  # type: ignore[index]


def test_warnings_once_each_with_location_and_strict_fails(tmp_path: Path,
                                                           isolated_env: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/usr/share/nginx/html\n"
        "    stop_signal: SIGINT\n")
    result = kompy()
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(lines) == len(set(lines)) == 2
    assert any("compose.yaml:5:" in line and "bind mount" in line for line in lines)
    assert any("compose.yaml:6:" in line and "stop_signal" in line for line in lines)
    strict = kompy("--strict", "-o", "k8s")
    assert strict.exit_code == 2
    assert "stop_signal" in strict.stderr
    assert not (tmp_path / "k8s").exists()


def test_restricted_security_fails_naming_keys(tmp_path: Path, isolated_env: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: app\n    privileged: true\n    pid: host\n"
        "    cap_add: [SYS_ADMIN]\n")
    assert kompy().exit_code == 0
    result = kompy("--security", "restricted")
    assert result.exit_code == 2
    for key in ("services.app.privileged", "services.app.pid", "services.app.cap_add[0]"):
        assert key in result.stderr


def test_report_json(project: Path) -> None:
    result = kompy("--report", "report.json", "-o", "k8s")
    assert result.exit_code == 0, result.output
    report = json.loads((project / "report.json").read_text())
    assert report


def test_unsupported_kube_version_is_user_error(project: Path) -> None:
    result = kompy("--kube-version", "1.2")
    assert result.exit_code == 2
    assert "unsupported Kubernetes version" in result.stderr


def test_output_is_identical_across_processes(project: Path) -> None:
    """Different hash seeds, same bytes: nothing depends on set or dict hashing order."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "kompy", "convert"], cwd=project, env=env,
                              capture_output=True, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert b"kind: Deployment" in outputs[0]


def test_out_to_an_existing_file_and_below_a_file(project: Path) -> None:
    (project / "manifests").write_text("old")
    assert kompy("-o", "manifests").exit_code == 0
    assert "kind: Deployment" in (project / "manifests").read_text()
    # A folder below a file cannot be created (even by root): a user error, not a traceback.
    result = kompy("-o", "manifests/k8s/")
    assert result.exit_code == 2, result.output
    assert "cannot write" in result.stderr


def test_older_kube_version_validates(project: Path) -> None:
    from kompy.convert.validate import supported_versions

    oldest = supported_versions()[0]
    result = kompy("--kube-version", oldest, "-o", "k8s")
    assert result.exit_code == 0, result.output


def _bind_project(root: Path) -> None:
    (root / "conf").mkdir()
    (root / "conf" / "app.ini").write_text("a=1\n")
    (root / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    volumes:\n      - ./conf:/etc/app:ro\n")


def test_emptyvols_is_kompose_s_deprecated_volumes_emptydir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _bind_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = kompy("--emptyvols")
    assert result.exit_code == 0, result.output
    assert "--emptyvols is deprecated; use --volumes emptyDir" in result.stderr
    [deployment] = [d for d in _docs(result.stdout) if d["kind"] == "Deployment"]
    assert "emptyDir" in str(deployment)
    assert "ConfigMap" not in result.stdout
    assert kompy("--emptyvols", "--volumes", "emptyDir").exit_code == 0
    clash = kompy("--emptyvols", "--volumes", "hostPath")
    assert clash.exit_code == 2
    assert "--emptyvols contradicts --volumes hostPath" in clash.output


def test_bind_mounted_folder_ships_its_content_by_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _bind_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = kompy()
    assert result.exit_code == 0, result.output
    [cm] = [d for d in _docs(result.stdout) if d["kind"] == "ConfigMap"]
    assert cm["data"] == {"app.ini": "a=1\n"}


def test_unset_variable_is_named_when_the_pass_then_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue #9 class 11: `${PLEX_MEDIA_PATH}:/media` left ":/media" and failed without the
    # warning that names the variable.
    (tmp_path / "compose.yaml").write_text(
        "services:\n  plex:\n    image: plex\n    volumes:\n      - ${PLEX_MEDIA_PATH}:/media\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLEX_MEDIA_PATH", raising=False)
    result = kompy()
    assert result.exit_code == 2
    warning, error = result.stderr.index("warning:"), result.stderr.index("error:")
    assert warning < error
    assert "variable PLEX_MEDIA_PATH is not set" in result.stderr
    assert "empty section between colons" in result.stderr


def test_namespace_object_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n")
    monkeypatch.chdir(tmp_path)
    docs = _docs(kompy("-n", "shop", "--no-inspect-images").stdout)
    assert docs[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "shop", "labels": {"app.kubernetes.io/part-of": tmp_path.name,
                                   "app.kubernetes.io/managed-by": "kompy"},
        "annotations": {"kompy.dev/cmd": "kompy convert -f compose.yaml",
                        "kompy.dev/version": __version__}}}
    assert all(d["metadata"].get("namespace") == "shop" for d in docs[1:])
    result = kompy("-n", "shop", "-o", "k8s", "--kustomize", "--no-inspect-images")
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "k8s").iterdir())
    assert files[0] == "00-shop-namespace.yaml"  # kubectl apply -f DIR goes by file name
    kustomization = YAML(typ="safe").load((tmp_path / "k8s" / "kustomization.yaml").read_text())
    assert kustomization["resources"][0] == "00-shop-namespace.yaml"
    none = _docs(kompy("-n", "shop", "--no-create-namespace", "--no-inspect-images").stdout)
    assert [d["kind"] for d in none] == ["Service", "Deployment"]
    chart = kompy("-n", "shop", "--chart", "-o", "chart", "--no-inspect-images")
    assert chart.exit_code == 0, chart.output
    assert not list((tmp_path / "chart" / "templates").glob("*namespace*"))


def test_replication_controller_is_refused_with_the_fix(project: Path) -> None:
    result = kompy("--controller", "replicationcontroller")
    assert result.exit_code == 2
    assert "use --controller deployment" in result.output


def test_profiles_selecting_nothing_warn(project: Path) -> None:
    result = kompy("--profile", "nosuchprofile", "--no-inspect-images")
    assert result.exit_code == 0, result.output
    assert "profile 'nosuchprofile' selects no service" in result.stderr
