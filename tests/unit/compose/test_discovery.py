"""Finding Compose files, the project directory, environment and project name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.compose.discovery import normalize_project_name
from kompy.compose.loader import LoadOptions, load_project
from kompy.errors import ComposeError, Diagnostic
from kompy.model import Project

SERVICE = "services:\n  web:\n    image: nginx\n"


def load(cwd: Path, diagnostics: list[Diagnostic] | None = None, **options: Any) -> Project:
    options.setdefault("environ", {})
    return load_project(LoadOptions(cwd=str(cwd), **options), diagnostics)


@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yml",
                                  "docker-compose.yaml"])
def test_each_default_name_is_found(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(SERVICE)
    assert load(tmp_path).compose_files == (str(tmp_path / name),)


def test_compose_yaml_preferred_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(SERVICE)
    (tmp_path / "docker-compose.yml").write_text("services: {other: {image: x}}\n")
    diagnostics: list[Diagnostic] = []
    project = load(tmp_path, diagnostics)
    assert list(project.services) == ["web"]
    assert any("several Compose files" in d.message for d in diagnostics)


def test_override_file_is_merged(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(SERVICE)
    (tmp_path / "compose.override.yaml").write_text("services:\n  web:\n    image: nginx:2\n")
    project = load(tmp_path)
    assert project.services["web"].image == "nginx:2"
    assert len(project.compose_files) == 2


def test_found_in_a_parent_folder(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(SERVICE)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    project = load(sub)
    assert project.working_dir == str(tmp_path)


def test_no_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="no Compose file found"):
        load(tmp_path)


def test_missing_file_given_with_f(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="not found"):
        load(tmp_path, files=("nope.yaml",))


def test_compose_file_variable_with_separator(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SERVICE)
    (tmp_path / "b.yaml").write_text("services:\n  web:\n    image: b\n")
    project = load(tmp_path, environ={"COMPOSE_FILE": "a.yaml;b.yaml",
                                      "COMPOSE_PATH_SEPARATOR": ";"})
    assert project.services["web"].image == "b"


@pytest.mark.parametrize("value", ["a.yaml:b.yaml", "a.yaml b.yaml", " a.yaml  b.yaml "])
def test_compose_file_variable_as_compose_or_kompose_lists_it(tmp_path: Path,
                                                             value: str) -> None:
    # Compose splits on the path separator (":" here); Kompose on whitespace (issue #9).
    (tmp_path / "a.yaml").write_text(SERVICE)
    (tmp_path / "b.yaml").write_text("services:\n  web:\n    image: b\n")
    assert load(tmp_path, environ={"COMPOSE_FILE": value}).services["web"].image == "b"


def test_compose_file_variable_keeps_a_file_name_with_a_space(tmp_path: Path) -> None:
    (tmp_path / "my compose.yaml").write_text(SERVICE)
    assert load(tmp_path, environ={"COMPOSE_FILE": "my compose.yaml"}).services["web"]


def test_project_directory_is_the_first_files_folder(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "compose.yaml").write_text(SERVICE)
    project = load(tmp_path, files=("deploy/compose.yaml",))
    assert project.working_dir == str(tmp_path / "deploy")
    assert project.name == "deploy"


def test_project_directory_option(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    build: .\n")
    project = load(tmp_path, files=("compose.yaml",), project_directory="app")
    assert project.working_dir == str(tmp_path / "app")
    build = project.services["web"].build
    assert build is not None and build.context == str(tmp_path / "app")


@pytest.mark.parametrize("raw,expected", [
    ("My Project", "myproject"), ("_app.v2", "appv2"), ("Web-App_1", "web-app_1"),
    ("--x", "x"),
])
def test_directory_names_are_normalised(raw: str, expected: str) -> None:
    assert normalize_project_name(raw) == expected


def test_name_precedence(tmp_path: Path) -> None:
    folder = tmp_path / "My Folder"
    folder.mkdir()
    (folder / "compose.yaml").write_text("name: fromfile\n" + SERVICE)
    assert load(folder).name == "fromfile"
    assert load(folder, environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load(folder, project_name="flag",
                environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "flag"
    (folder / "compose.yaml").write_text(SERVICE)
    assert load(folder).name == "myfolder"


def test_name_can_be_interpolated(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: app-${STAGE:-dev}\n" + SERVICE)
    assert load(tmp_path).name == "app-dev"
    assert load(tmp_path, environ={"STAGE": "prod"}).name == "app-prod"


def test_invalid_explicit_name_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: My App\n" + SERVICE)
    with pytest.raises(ComposeError) as caught:
        load(tmp_path)
    assert "invalid project name" in caught.value.message
    assert caught.value.hint == "use 'myapp'"
    assert caught.value.location is not None and caught.value.location.line == 1


def test_dotenv_supplies_variables_and_compose_settings(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:${TAG}\n")
    (tmp_path / ".env").write_text("TAG=1.25\nCOMPOSE_PROJECT_NAME=fromdotenv\n")
    project = load(tmp_path)
    assert project.services["web"].image == "nginx:1.25"
    assert project.name == "fromdotenv"


def test_process_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:${TAG}\n")
    (tmp_path / ".env").write_text("TAG=1.25\n")
    assert load(tmp_path, environ={"TAG": "2"}).services["web"].image == "nginx:2"


def test_dotenv_values_reference_earlier_ones(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: ${IMAGE}\n")
    (tmp_path / ".env").write_text("REPO=nginx\nIMAGE=${REPO}:1\n")
    assert load(tmp_path).services["web"].image == "nginx:1"


def test_env_file_option_replaces_dotenv(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: ${IMAGE:-none}:${TAG:-none}\n")
    (tmp_path / ".env").write_text("IMAGE=fromdotenv\n")
    (tmp_path / "a.env").write_text("IMAGE=a\nTAG=1\n")
    (tmp_path / "b.env").write_text("TAG=2\n")
    project = load(tmp_path, env_files=("a.env", "b.env"))
    assert project.services["web"].image == "a:2"


def test_compose_env_files_variable(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: ${IMAGE:-none}\n")
    (tmp_path / ".env").write_text("IMAGE=fromdotenv\n")
    (tmp_path / "a.env").write_text("IMAGE=a\n")
    project = load(tmp_path, environ={"COMPOSE_ENV_FILES": "a.env"})
    assert project.services["web"].image == "a"


def test_missing_env_file_option(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(SERVICE)
    with pytest.raises(ComposeError, match="env file .* not found"):
        load(tmp_path, env_files=("missing.env",))
