"""``extends``: same file, other files, recursion, relative paths, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.errors import ComposeError, KompyError
from kompy.model import Project


def load(tmp_path: Path, text: str, **files: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    for name, content in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path), environ={}))


def test_same_file_extends_merges_over_the_base(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  base:
    image: app:1
    environment: {A: "1", B: "1"}
    ports: ["80"]
  web:
    extends: base
    environment: {B: "2"}
    ports: ["443:443"]
""")
    web = project.services["web"]
    assert web.image == "app:1"
    assert web.environment == {"A": "1", "B": "2"}
    assert [p.target for p in web.ports] == [80, 443]


def test_extends_is_recursive_and_long_form(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  a: {image: a, user: root}
  b: {extends: {service: a}, working_dir: /b}
  c: {extends: b, hostname: c}
""")
    c = project.services["c"]
    assert (c.image, c.user, c.working_dir, c.hostname) == ("a", "root", "/b", "c")


def test_extends_from_another_file_with_its_own_relative_paths(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  web:
    extends: {file: common/base.yaml, service: app}
    env_file: local.env
""", **{"common__base.yaml": """
services:
  app:
    image: app
    build: ./src
    env_file: base.env
""", "common__base.env": "X=1\n", "local.env": "Y=2\n"})
    web = project.services["web"]
    assert web.build is not None and web.build.context == str(tmp_path / "common" / "src")
    paths = [e.path for e in web.env_files]
    assert paths == [str(tmp_path / "common" / "base.env"), str(tmp_path / "local.env")]
    assert [e.values for e in web.env_files] == [{"X": "1"}, {"Y": "2"}]


def test_extends_chain_across_files(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web:\n    extends: {file: one.yaml, service: one}\n",
                   **{"one.yaml": "services:\n  one:\n    extends: {file: two.yaml, service: two}"
                                  "\n    user: one\n",
                      "two.yaml": "services:\n  two:\n    image: two\n    user: two\n"})
    web = project.services["web"]
    assert (web.image, web.user) == ("two", "one")


def test_reset_in_extending_service(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  init:
    image: alpine
    command: sleep infinity
  base:
    extends: {service: init}
    command: !reset
""")
    assert project.services["base"].command is None


def test_unknown_base_service_with_hint(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, "services:\n  base: {image: a}\n  web:\n    extends: bsae\n")
    assert "'bsae' not found" in caught.value.message
    assert caught.value.hint == "did you mean 'base'?"
    assert caught.value.location is not None and caught.value.location.line == 4


def test_cycle_names_the_chain(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, "services:\n  a: {extends: b}\n  b: {extends: c}\n  c: {extends: a}\n")
    assert "extends cycle: a -> b -> c -> a" in caught.value.message


def test_self_extension_is_a_cycle(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="extends cycle: a -> a"):
        load(tmp_path, "services:\n  a: {image: x, extends: a}\n")


def test_cycle_across_files(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="extends cycle"):
        load(tmp_path, "services:\n  a: {extends: {file: other.yaml, service: b}}\n",
             **{"other.yaml": "services:\n  b: {extends: {file: compose2.yaml, service: a}}\n",
                "compose2.yaml": "services:\n  a: {extends: {file: other.yaml, service: b}}\n"})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="extends: file .*nope.yaml not found"):
        load(tmp_path, "services:\n  a: {extends: {file: nope.yaml, service: b}}\n")


def test_error_in_inherited_key_points_at_the_base(tmp_path: Path) -> None:
    with pytest.raises(KompyError) as caught:
        load(tmp_path, "services:\n  web:\n    extends: {file: base.yaml, service: b}\n",
             **{"base.yaml": "services:\n  b:\n    image: x\n    restart: sometimes\n"})
    assert "base.yaml:4:" in caught.value.format()


def test_a_warning_about_a_file_read_twice_is_given_once(tmp_path: Path) -> None:
    from kompy.errors import Diagnostic

    (tmp_path / "base.yaml").write_text("services:\n  b:\n    image: x${UNSET}\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    extends: {file: base.yaml, service: b}\n"
        "  other:\n    extends: {file: base.yaml, service: b}\n")
    diagnostics: list[Diagnostic] = []
    load_project(LoadOptions(files=("compose.yaml", "base.yaml"), cwd=str(tmp_path),
                             environ={}), diagnostics)
    assert [d.message for d in diagnostics].count(
        "variable UNSET is not set; using an empty string") == 1


@pytest.mark.parametrize("ref", ["oci://docker.io/x/y:1", "https://example.com/c.yaml",
                                 "remote:cycle/compose.yaml"])
def test_remote_extends_fails_cleanly_offline(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ComposeError, match="remote file .* not supported") as caught:
        load(tmp_path, f"services:\n  a:\n    extends: {{file: '{ref}', service: b}}\n")
    assert "\n" not in caught.value.message
