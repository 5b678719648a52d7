"""``kompy config`` through the real command line: output, options and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kompy.cli import main
from kompy.yaml.reader import load_yaml

REPO = Path(__file__).resolve().parents[2]

COMPOSE = """\
name: shop
services:
  web:
    image: shop/web:${TAG:-1.0}
    ports: ["8080:80"]
    environment:
      PORT: 80
      DEBUG: "yes"
      VERSION: "1.10"
      TIME: "1:30"
      DAY: "2024-01-31"
    depends_on: [db]
    volumes: ["data:/data"]
  db:
    image: postgres:16
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data: {}
"""


@pytest.fixture
def project(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(root)
    monkeypatch.delenv("TAG", raising=False)
    return root


def kompy(*args: str) -> Result:
    return CliRunner().invoke(main, ["config", *args])


def test_prints_the_resolved_project_as_yaml(project: Path) -> None:
    result = kompy()
    assert result.exit_code == 0, result.output
    data = load_yaml(result.stdout, "out")[0].data
    assert data["name"] == "shop"
    assert list(data["services"]) == ["db", "web"]
    web = data["services"]["web"]
    assert web["image"] == "shop/web:1.0"
    assert web["ports"][0]["target"] == 80 and web["ports"][0]["published"] == "8080"
    # Strings that look like numbers or booleans keep being strings after a round trip.
    assert web["environment"] == {"PORT": "80", "DEBUG": "yes", "VERSION": "1.10",
                                  "TIME": "1:30", "DAY": "2024-01-31"}
    # Quoted for YAML 1.1 readers too (PyYAML reads 1:30 as 90 and 2024-01-31 as a date).
    for text in ("DEBUG: 'yes'", "VERSION: '1.10'", "TIME: '1:30'", "DAY: '2024-01-31'"):
        assert text in result.stdout


def test_two_runs_are_byte_identical(project: Path) -> None:
    assert kompy().stdout == kompy().stdout


def test_output_reads_back_as_the_same_project(project: Path) -> None:
    first = kompy().stdout
    (project / "resolved.yaml").write_text(first)
    assert kompy("-f", "resolved.yaml").stdout == first


def test_json_format(project: Path) -> None:
    result = kompy("--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["services"]["db"]["image"] == "postgres:16"


def test_lists(project: Path) -> None:
    assert kompy("--services").stdout == "db\nweb\n"
    assert kompy("--volumes").stdout == "data\n"
    assert kompy("--profiles").stdout == "debug\n"
    assert kompy("--images").stdout == "postgres:16\nshop/web:1.0\n"
    assert kompy("--services", "--profile", "debug").stdout == "db\ndebug\nweb\n"


def test_selected_services_bring_their_dependencies(project: Path) -> None:
    assert kompy("--services", "web").stdout == "db\nweb\n"
    assert kompy("--services", "debug").stdout == "debug\n"


def test_quiet_prints_nothing(project: Path) -> None:
    result = kompy("-q")
    assert result.exit_code == 0 and result.stdout == ""


def test_output_file(project: Path) -> None:
    result = kompy("-o", "out/resolved.yaml")
    assert result.exit_code == 0, result.output
    assert (project / "out" / "resolved.yaml").read_text() == kompy().stdout


def test_output_file_that_cannot_be_written(project: Path) -> None:
    (project / "blocker").write_text("a file, not a folder")
    result = kompy("-o", "blocker/out.yaml")
    assert result.exit_code == 2 and "cannot write blocker/out.yaml" in result.stderr


def test_env_file_and_no_interpolate(project: Path) -> None:
    (project / "prod.env").write_text("TAG=2.0\n")
    assert "shop/web:2.0" in kompy("--env-file", "prod.env").stdout
    assert "shop/web:${TAG:-1.0}" in kompy("--no-interpolate").stdout


def test_files_project_name_and_directory(project: Path) -> None:
    (project / "extra.yaml").write_text("services:\n  web:\n    image: other\n")
    result = kompy("-f", "compose.yaml", "-f", "extra.yaml", "-p", "other-name")
    data = load_yaml(result.stdout, "out")[0].data
    assert data["name"] == "other-name"
    assert data["services"]["web"]["image"] == "other"


def test_compose_file_from_stdin(project: Path) -> None:
    result = CliRunner().invoke(main, ["config", "-f", "-", "--services"],
                                input="services:\n  piped: {image: a}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "piped\n"
    result = CliRunner().invoke(main, ["config", "-f", "-"], input="services: [x]\n")
    assert result.exit_code == 2 and "<stdin>:1:" in result.stderr


def test_errors_exit_2_with_position_and_hint(project: Path) -> None:
    (project / "compose.yaml").write_text("services:\n  web:\n    image: a\n"
                                          "    enviroment: {A: '1'}\n    restart: 5\n")
    result = kompy()
    assert result.exit_code == 2
    assert "compose.yaml:4:5: services.web.enviroment: unknown key 'enviroment'" \
        in result.stderr
    assert "hint: did you mean 'environment'?" in result.stderr
    assert "compose.yaml:5:5: services.web.restart: expected a string" in result.stderr
    assert "Traceback" not in result.output


def test_warnings_go_to_stderr(project: Path) -> None:
    (project / "compose.yaml").write_text("version: '3'\nservices:\n  web:\n    image: a\n")
    result = kompy()
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "obsolete" in result.stderr
    assert "warning" not in result.stdout


def test_outside_project_flag(project: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    (project / "compose.yaml").write_text(
        "services:\n  web:\n    image: a\n    secrets: [s]\nsecrets:\n  s:\n"
        "    file: ../secret.txt\n")
    result = kompy()
    assert result.exit_code == 2 and "--allow-outside-project" in result.stderr
    assert kompy("--allow-outside-project").exit_code == 0


def test_no_compose_file(tmp_path: Path, isolated_env: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = kompy()
    assert result.exit_code == 2 and "no Compose file found" in result.stderr


def test_samples_render(isolated_env: Path, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    for sample in ("webapp", "database", "configs-secrets"):
        root = tmp_path / sample
        shutil.copytree(REPO / "samples" / sample, root)
        monkeypatch.chdir(root)
        result = kompy()
        assert result.exit_code == 0, (sample, result.output)


def test_real_process_exit_status(project: Path) -> None:
    (project / "compose.yaml").write_text("services: [web]\n")
    done = subprocess.run([sys.executable, "-m", "kompy", "config"], capture_output=True,
                          text=True, timeout=60, cwd=project)
    assert done.returncode == 2
    assert "services: expected a mapping, got a list" in done.stderr
