"""kompy check: configuration, comparison of manifests folders, --fix and exit codes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from kompy.check import config as config_mod
from kompy.check import runner
from kompy.check.config import ProjectConfig, load_config
from kompy.check.runner import CheckRequest, run_check
from kompy.check.tree import apply_changes, compare_tree, is_kompy_managed
from kompy.errors import MultiError, UserError

MANAGED = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app.kubernetes.io/managed-by: kompy
"""
FOREIGN = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: mine
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


# --- configuration ------------------------------------------------------------------------


def test_no_configuration_gives_one_default_project(repo: Path) -> None:
    config = load_config(repo)
    assert config.file is None
    assert config.projects == (ProjectConfig(),)
    assert config.repo_root == repo


def test_kompy_toml_paths_are_relative_to_it(repo: Path) -> None:
    (repo / ".kompy.toml").write_text(
        'files = ["compose.yaml", "compose.prod.yaml"]\nmanifests = "k8s"\n'
        'namespace = "shop"\nreplicas = 2\nwith-kompose-annotation = false\n'
    )
    config = load_config(repo)
    (project,) = config.projects
    assert project.files == (str(repo / "compose.yaml"), str(repo / "compose.prod.yaml"))
    assert project.manifests == str(repo / "k8s")
    options = project.convert_options()
    assert (options.namespace, options.replicas, options.with_kompose_annotation) == (
        "shop", 2, False)
    assert options.validate is True


def test_pyproject_tool_table_found_from_a_subfolder(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.kompy]\nmanifests = "deploy"\ntemplates = "tpl"\n'
    )
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    config = load_config(sub)
    assert config.file == repo / "pyproject.toml"
    assert config.projects[0].manifests == str(repo / "deploy")
    assert config.projects[0].convert_options().templates_dir == str(repo / "tpl")


def test_pyproject_without_tool_kompy_is_not_a_configuration(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(repo).file is None


def test_kompy_toml_wins_over_pyproject_in_the_same_folder(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.kompy]\nmanifests = "a"\n')
    (repo / ".kompy.toml").write_text('manifests = "b"\n')
    assert load_config(repo).projects[0].manifests == str(repo / "b")


def test_several_projects_inherit_top_level_keys(repo: Path) -> None:
    (repo / ".kompy.toml").write_text(
        'namespace = "shop"\nmanifests = "k8s"\n\n'
        '[[project]]\nfiles = ["a/compose.yaml"]\nmanifests = "a/k8s"\n\n'
        '[[project]]\nfiles = ["b/compose.yaml"]\nnamespace = "billing"\n'
    )
    a, b = load_config(repo).projects
    assert a.files == (str(repo / "a/compose.yaml"),)
    assert a.manifests == str(repo / "a/k8s")
    assert a.convert["namespace"] == "shop"
    assert b.manifests == str(repo / "k8s")
    assert b.convert["namespace"] == "billing"


def test_unknown_key_is_an_error_with_file_line_and_hint(repo: Path) -> None:
    (repo / ".kompy.toml").write_text('files = ["compose.yaml"]\nmanifest = "k8s"\n')
    with pytest.raises(UserError) as info:
        load_config(repo)
    text = info.value.format()
    assert f"{repo / '.kompy.toml'}:2: manifest: unknown key" in text
    assert "did you mean 'manifests'?" in text


@pytest.mark.parametrize("key", ["images", "built-images", "cluster-images"])
def test_image_inputs_are_not_configurable(repo: Path, key: str) -> None:
    # kompy check never inspects, builds or pushes images: its verdict is the same on every
    # machine whatever images it has (issue #9: deterministic output).
    (repo / ".kompy.toml").write_text(f'manifests = "k8s"\n{key} = "x"\n')
    with pytest.raises(UserError, match="unknown key"):
        load_config(repo)
    (repo / ".kompy.toml").write_text('manifests = "k8s"\ncreate-namespace = false\n')
    assert load_config(repo).projects[0].convert["create_namespace"] is False


def test_snake_case_option_suggests_the_kebab_case_key(repo: Path) -> None:
    (repo / ".kompy.toml").write_text('pvc_request_size = "1Gi"\n')
    with pytest.raises(UserError, match="pvc_request_size") as info:
        load_config(repo)
    assert "did you mean 'pvc-request-size'?" in info.value.format()


def test_every_problem_is_reported_at_once(repo: Path) -> None:
    (repo / ".kompy.toml").write_text(
        'replicas = "two"\ncontroller = "deploymnet"\nbogus = 1\n[[project]]\nnamspace = "x"\n'
    )
    with pytest.raises(MultiError) as info:
        load_config(repo)
    text = info.value.format()
    assert "replicas: must be an integer, not a string" in text
    assert "did you mean 'deployment'?" in text
    assert "bogus: unknown key" in text
    assert "project[0].namspace: unknown key" in text
    assert len(info.value.errors) == 4


def test_boolean_is_not_an_integer(repo: Path) -> None:
    (repo / ".kompy.toml").write_text("replicas = true\n")
    with pytest.raises(UserError, match="replicas: must be"):
        load_config(repo)


def test_paths_outside_the_repository_are_refused(repo: Path) -> None:
    (repo / ".kompy.toml").write_text('files = ["../elsewhere/compose.yaml"]\n')
    with pytest.raises(UserError, match="outside the repository"):
        load_config(repo)


def test_invalid_toml_has_its_position(repo: Path) -> None:
    (repo / ".kompy.toml").write_text('files = ["a"\nmanifests = 1\n')
    with pytest.raises(UserError, match=r"\.kompy\.toml:\d+:\d+: invalid TOML"):
        load_config(repo)


def test_every_convert_option_is_configurable_except_templates_and_validate() -> None:
    kinds = config_mod.convert_option_kinds()
    assert "templates-dir" not in kinds and "validate" not in kinds
    assert kinds["replicas"] is int and kinds["network-policies"] is bool
    assert kinds["namespace"] is str


# --- comparing and fixing a manifests folder ----------------------------------------------


def test_up_to_date_folder_has_no_changes(tmp_path: Path) -> None:
    (tmp_path / "web-service.yaml").write_text(MANAGED)
    assert compare_tree(tmp_path, {"web-service.yaml": MANAGED}) == []


def test_crlf_checkout_is_not_stale(tmp_path: Path) -> None:
    (tmp_path / "web-service.yaml").write_bytes(MANAGED.replace("\n", "\r\n").encode())
    assert compare_tree(tmp_path, {"web-service.yaml": MANAGED}) == []


def test_stale_missing_and_extra_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MANAGED.replace("web", "old"))
    (tmp_path / "gone.yaml").write_text(MANAGED)
    (tmp_path / "mine.yaml").write_text(FOREIGN)
    (tmp_path / "notes.txt").write_text("not a manifest")
    changes = compare_tree(tmp_path, {"a.yaml": MANAGED, "sub/b.yaml": MANAGED})
    assert [(c.rel, c.kind) for c in changes] == [
        ("a.yaml", "stale"), ("gone.yaml", "extra"), ("sub/b.yaml", "missing")]
    diff = changes[0].diff("k8s/a.yaml")
    assert diff.startswith("--- a/k8s/a.yaml\n+++ b/k8s/a.yaml\n")
    assert "-  name: old\n+  name: web\n" in diff
    assert changes[1].diff("k8s/gone.yaml").splitlines()[1] == "+++ /dev/null"
    assert changes[2].diff("k8s/sub/b.yaml").startswith("--- /dev/null\n")


def test_fix_writes_stale_and_missing_and_removes_only_managed_extras(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("old\n")
    (tmp_path / "gone.yaml").write_text(MANAGED)
    (tmp_path / "mine.yaml").write_text(FOREIGN)
    changes = compare_tree(tmp_path, {"a.yaml": MANAGED, "sub/b.yaml": MANAGED})
    apply_changes(tmp_path, changes)
    assert (tmp_path / "a.yaml").read_text() == MANAGED
    assert (tmp_path / "sub/b.yaml").read_text() == MANAGED
    assert not (tmp_path / "gone.yaml").exists()
    assert (tmp_path / "mine.yaml").read_text() == FOREIGN
    assert compare_tree(tmp_path, {"a.yaml": MANAGED, "sub/b.yaml": MANAGED}) == []


@pytest.mark.parametrize(
    ("name", "text", "managed"),
    [
        ("a.yaml", MANAGED, True),
        ("a.yaml", FOREIGN, False),
        ("a.yaml", MANAGED + "---\n" + FOREIGN, False),  # a user's object in it: keep the file
        ("a.yaml", MANAGED + "---\n" + MANAGED, True),
        ("a.yaml", "", False),
        ("a.yaml", "key: [unclosed\n", False),
        ("a.json", '{"metadata": {"labels": {"app.kubernetes.io/managed-by": "kompy"}}}', True),
        ("a.json", "{not json", False),
        ("a.yaml", "kind: List\nitems:\n- " + MANAGED.replace("\n", "\n  ").rstrip() + "\n",
         True),
    ],
)
def test_is_kompy_managed(tmp_path: Path, name: str, text: str, managed: bool) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert is_kompy_managed(path) is managed


# --- the runner: exit codes and output, with the conversion stubbed -----------------------


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace load+convert+render by a fixed result, so these tests need neither."""
    state: dict[str, Any] = {"files": {"web-service.yaml": MANAGED}, "error": None}

    def fake(project: ProjectConfig, cwd: Path, request: CheckRequest) -> Any:
        if state["error"] is not None:
            raise state["error"]
        return runner.Rendered(dict(state["files"]), [], len(state["files"]), ())

    monkeypatch.setattr(runner, "render_project", fake)
    return state


def _run(repo: Path, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_check(CheckRequest(cwd=str(repo), **kwargs), out, err)
    return code, out.getvalue(), err.getvalue()


def test_exit_0_when_manifests_are_current(repo: Path, rendered: dict[str, Any]) -> None:
    (repo / "k8s").mkdir()
    (repo / "k8s/web-service.yaml").write_text(MANAGED)
    code, out, _ = _run(repo, manifests="k8s")
    assert code == 0
    assert "manifests in k8s/ are up to date (1 objects)" in out


def test_exit_1_with_a_diff_when_stale(repo: Path, rendered: dict[str, Any]) -> None:
    (repo / "k8s").mkdir()
    (repo / "k8s/web-service.yaml").write_text(MANAGED.replace("web", "api"))
    code, out, err = _run(repo, manifests="k8s")
    assert code == 1
    assert "k8s/web-service.yaml: stale" in out
    assert "-  name: api\n+  name: web\n" in out
    assert "kompy check --fix" in err


def test_fix_exits_0_unless_asked_otherwise(repo: Path, rendered: dict[str, Any]) -> None:
    code, out, _ = _run(repo, manifests="k8s", fix=True)
    assert code == 0
    assert "created k8s/web-service.yaml" in out
    assert (repo / "k8s/web-service.yaml").read_text() == MANAGED
    rendered["files"] = {"web-service.yaml": MANAGED.replace("web", "www")}
    code, out, _ = _run(repo, manifests="k8s", fix=True, exit_non_zero_on_fix=True)
    assert (code, out.strip()) == (1, "kompy check: updated k8s/web-service.yaml")
    code, _, _ = _run(repo, manifests="k8s", fix=True, exit_non_zero_on_fix=True)
    assert code == 0  # nothing left to change


def test_exit_2_when_the_project_is_invalid(repo: Path, rendered: dict[str, Any]) -> None:
    rendered["error"] = UserError("bad", hint="fix it")
    code, out, err = _run(repo)
    assert code == 2
    assert "error: bad\n  hint: fix it" in err
    assert out == ""


def test_configured_manifests_are_used_without_arguments(
    repo: Path, rendered: dict[str, Any]
) -> None:
    (repo / ".kompy.toml").write_text('manifests = "deploy"\n')
    code, _, _ = _run(repo)
    assert code == 1
    assert not (repo / "deploy").exists()
    assert _run(repo, fix=True)[0] == 0
    assert _run(repo)[0] == 0


def test_manifests_outside_the_repository_are_refused(
    repo: Path, rendered: dict[str, Any]
) -> None:
    with pytest.raises(UserError, match="outside the repository"):
        _run(repo, manifests="../k8s")
