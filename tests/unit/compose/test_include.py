"""``include``: short and long forms, relative paths, environments, conflicts, cycles, remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.errors import ComposeError
from kompy.model import Project


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(root: Path, files: dict[str, str], **environ: str) -> Project:
    write(root, files)
    return load_project(LoadOptions(files=("compose.yaml",), cwd=str(root), environ=environ))


def test_short_form_adds_the_included_services(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": "include: [db/compose.yaml]\nservices:\n  web:\n    image: web\n"
                        "    depends_on: [db]\n",
        "db/compose.yaml": "services:\n  db:\n    image: postgres\n"
                           "    volumes: ['./init:/docker-entrypoint-initdb.d', 'data:/var/lib']\n"
                           "volumes:\n  data: {}\n",
    })
    assert set(project.services) == {"web", "db"}
    assert set(project.volumes) == {"data"}
    # Relative paths in the included file start at its own folder.
    bind = project.services["db"].volumes[0]
    assert bind.source == str(tmp_path / "db" / "init")


def test_long_form_with_project_directory_and_env_file(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": "include:\n  - path: lib/compose.yaml\n    project_directory: lib/app\n"
                        "    env_file: lib/vars.env\n",
        "lib/compose.yaml": "services:\n  api:\n    image: api:${TAG}\n    build: .\n",
        "lib/vars.env": "TAG=from-env-file\n",
        "lib/app/.keep": "",
    })
    api = project.services["api"]
    assert api.image == "api:from-env-file"
    assert api.build is not None and api.build.context == str(tmp_path / "lib" / "app")


def test_including_projects_variables_win(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": "include: [lib/compose.yaml]\n",
        "lib/compose.yaml": "services:\n  api:\n    image: api:${TAG}\n",
        "lib/.env": "TAG=included\n",
    }, TAG="parent")
    assert project.services["api"].image == "api:parent"
    project = load(tmp_path, {"compose.yaml": "include: [lib/compose.yaml]\n"})
    assert project.services["api"].image == "api:included"


def test_path_list_is_merged_like_override_files(tmp_path: Path) -> None:
    project = load(tmp_path, {
        "compose.yaml": "include:\n  - path: [lib/a.yaml, lib/b.yaml]\n",
        "lib/a.yaml": "services:\n  api:\n    image: api:1\n",
        "lib/b.yaml": "services:\n  api:\n    image: api:2\n",
    })
    assert project.services["api"].image == "api:2"


def test_conflicting_resource_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="defined both by this project and by included"):
        load(tmp_path, {
            "compose.yaml": "include: [other.yaml]\nservices:\n  web:\n    image: a\n",
            "other.yaml": "services:\n  web:\n    image: b\n",
        })


def test_cycle_is_rejected_with_the_chain(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, {
            "compose.yaml": "include: [a.yaml]\nservices:\n  web: {image: w}\n",
            "a.yaml": "include: [b.yaml]\nservices:\n  a: {image: a}\n",
            "b.yaml": "include: [a.yaml]\nservices:\n  b: {image: b}\n",
        })
    assert "include cycle: a.yaml -> b.yaml -> a.yaml" in caught.value.message


@pytest.mark.parametrize("ref", ["oci://docker.io/example/app:1",
                                 "https://github.com/example/app.git#main:compose.yaml",
                                 "git@github.com:example/app.git"])
def test_remote_include_fails_cleanly_offline(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, {"compose.yaml": f"include: ['{ref}']\n"})
    assert "remote include" in caught.value.message
    assert "\n" not in caught.value.message


def test_missing_included_file_in_an_override(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include: [lib.yaml]\nservices:\n  web: {image: w}\n",
                     "lib.yaml": "services:\n  api: {image: a}\n",
                     "over.yaml": "\ninclude: [missing.yaml]\n"})
    with pytest.raises(ComposeError, match="included file .*missing.yaml not found") as caught:
        load_project(LoadOptions(files=("compose.yaml", "over.yaml"), cwd=str(tmp_path),
                                 environ={}))
    location = caught.value.location
    assert location is not None
    assert (location.file, location.line) == (str(tmp_path / "over.yaml"), 2)


def test_corpus_include_cycle_is_rejected(corpus: Path) -> None:
    path = corpus / "compose-go-testdata/loader/testdata/compose-include-cycle.yaml"
    with pytest.raises(ComposeError, match="include cycle"):
        load_project(LoadOptions(files=(str(path),), environ={}, cwd=str(path.parent)))


def test_errors_in_included_files_point_at_them(tmp_path: Path) -> None:
    from kompy.errors import KompyError

    with pytest.raises(KompyError) as caught:
        load(tmp_path, {
            "compose.yaml": "include: [lib/compose.yaml]\nservices:\n  web: {image: a}\n",
            "lib/compose.yaml": "services:\n  api:\n    image: b\n    restart: 5\n",
        })
    location = caught.value.location
    assert location is not None
    assert (location.file, location.line) == (str(tmp_path / "lib" / "compose.yaml"), 4)


def test_includes_are_applied_after_the_files_are_merged(tmp_path: Path) -> None:
    """Compose Specification "include": an override file cannot change an included service
    (that would be a conflict), but an include in an override file is honoured."""
    write(tmp_path, {
        "compose.yaml": "include: [lib/compose.yaml]\nservices:\n  web: {image: w}\n",
        "override.yaml": "services:\n  api:\n    image: changed\n",
        "lib/compose.yaml": "services:\n  api:\n    image: api\n",
        "extra.yaml": "include: [lib/more.yaml]\n",
        "lib/more.yaml": "services:\n  more:\n    image: more\n",
    })
    with pytest.raises(ComposeError, match="service 'api' is defined both"):
        load_project(LoadOptions(files=("compose.yaml", "override.yaml"), cwd=str(tmp_path),
                                 environ={}))
    project = load_project(LoadOptions(files=("compose.yaml", "extra.yaml"), cwd=str(tmp_path),
                                       environ={}))
    assert set(project.services) == {"web", "api", "more"}
