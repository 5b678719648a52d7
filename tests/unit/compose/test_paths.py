"""Relative paths and reading env files, secrets and configs only inside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.compose.paths import inside, is_remote, resolve_paths
from kompy.errors import ComposeError
from kompy.model import Project


def load(root: Path, text: str, allow_outside_project: bool = False) -> Project:
    (root / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=("compose.yaml",), cwd=str(root), environ={},
                                    allow_outside_project=allow_outside_project))


def test_relative_paths_become_absolute() -> None:
    data = resolve_paths({
        "services": {"web": {
            "build": {"context": "./app", "additional_contexts": {"lib": "../lib"}},
            "env_file": ["a.env", {"path": "b.env", "required": False}],
            "volumes": ["./data:/data:ro", "named:/x", {"type": "bind", "source": "src",
                                                        "target": "/src"}],
            "develop": {"watch": [{"path": "./src", "action": "sync", "target": "/app"}]},
        }},
        "secrets": {"s": {"file": "secret.txt"}},
        "configs": {"c": {"file": "./conf/app.ini"}},
    }, "/p")
    web = data["services"]["web"]
    assert web["build"] == {"context": "/p/app", "additional_contexts": {"lib": "/lib"}}
    assert web["env_file"] == ["/p/a.env", {"path": "/p/b.env", "required": False}]
    assert web["volumes"] == ["/p/data:/data:ro", "named:/x",
                              {"type": "bind", "source": "/p/src", "target": "/src"}]
    assert web["develop"]["watch"][0]["path"] == "/p/src"
    assert data["secrets"]["s"]["file"] == "/p/secret.txt"
    assert data["configs"]["c"]["file"] == "/p/conf/app.ini"


def test_git_build_contexts_stay_urls() -> None:
    for url in ("https://github.com/x/y.git#main", "git@github.com:x/y.git"):
        assert is_remote(url)
        data = resolve_paths({"services": {"w": {"build": url}}}, "/p")
        assert data["services"]["w"]["build"] == url
    assert not is_remote("./app") and not is_remote("C:\\app")


def test_env_file_values_are_read(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=1\nB=${A}2\n")
    project = load(tmp_path, "services:\n  web:\n    image: a\n    env_file: app.env\n")
    [env_file] = project.services["web"].env_files
    assert env_file.values == {"A": "1", "B": "12"}


def test_raw_env_file_format_is_literal(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("# comment\nA='quoted ${X}'\nB\n")
    project = load(tmp_path, "services:\n  web:\n    image: a\n"
                             "    env_file: [{path: app.env, format: raw}]\n")
    assert project.services["web"].env_files[0].values == {"A": "'quoted ${X}'", "B": None}


def test_optional_missing_env_file(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web:\n    image: a\n"
                             "    env_file: [{path: none.env, required: false}]\n")
    assert project.services["web"].env_files[0].values is None


def test_required_missing_env_file_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, "services:\n  web:\n    image: a\n    env_file: none.env\n")
    assert "none.env not found" in caught.value.message
    assert caught.value.location is not None and caught.value.location.line == 4


def test_secret_and_config_contents(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_bytes(b"s3cret\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: a\n    secrets: [token, key]\n    configs: [conf]\n"
        "secrets:\n  token: {file: token.txt}\n  key: {environment: API_KEY}\n"
        "  ext: {external: true}\n"
        "configs:\n  conf: {content: 'port=80'}\n")
    project = load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path),
                                       environ={"API_KEY": "k"}))
    assert project.secrets["token"].content == b"s3cret\n"
    assert project.secrets["key"].content == b"k"
    assert project.secrets["ext"].content is None
    assert project.configs["conf"].content == b"port=80"


def test_secret_from_unset_variable(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="API_KEY is not set"):
        load(tmp_path, "services:\n  web: {image: a}\nsecrets:\n  k: {environment: API_KEY}\n")


def test_file_outside_the_project_is_refused(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (tmp_path / "id_rsa").write_text("private")
    text = "services:\n  web: {image: a}\nsecrets:\n  key: {file: ../id_rsa}\n"
    with pytest.raises(ComposeError) as caught:
        load(project_dir, text)
    error = caught.value
    assert "outside the project directory" in error.message and "id_rsa" in error.message
    assert error.key_path == ("secrets", "key", "file")
    assert error.hint is not None and "--allow-outside-project" in error.hint
    project = load(project_dir, text, allow_outside_project=True)
    assert project.secrets["key"].content == b"private"


def test_symlink_escaping_the_project_is_refused(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (tmp_path / "outside.env").write_text("A=1\n")
    os.symlink(tmp_path / "outside.env", project_dir / "inside.env")
    with pytest.raises(ComposeError, match="resolves to"):
        load(project_dir, "services:\n  web:\n    image: a\n    env_file: inside.env\n")


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.env")
    with pytest.raises(ComposeError, match="not a regular file"):
        load(tmp_path, "services:\n  web:\n    image: a\n    env_file: pipe.env\n")


def test_inside() -> None:
    assert inside("/p/a/b", "/p")
    assert not inside("/pother/a", "/p")
    assert inside("/p", "/p")
