"""The whole loading pipeline: interpolation in context, hostile input, the shared corpus."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from kompy.compose.loader import LoadOptions, load_project, project_to_compose
from kompy.errors import ComposeError, Diagnostic, KompyError, MultiError
from kompy.model import Project
from kompy.yaml.reader import MAX_FILE_BYTES


def load(root: Path, text: str | bytes, diagnostics: list[Diagnostic] | None = None,
         **options: Any) -> Project:
    path = root / "compose.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    options.setdefault("environ", {})
    options.setdefault("files", ("compose.yaml",))
    return load_project(LoadOptions(cwd=str(root), **options), diagnostics)


def error_of(root: Path, text: str | bytes, **options: Any) -> KompyError:
    # This thread's CPU time, not wall time nor the process's: other processes on a shared
    # 2-core machine, and threads that earlier tests left in this process (API servers,
    # informers), must not fail it. The loader runs in the calling thread. The alias bomb
    # costs about 0.75 s quiet and twice that with both cores busy (a shared core's cache
    # and clock): the bound says "no hang" (expanding it would take minutes), as
    # tests/unit/yaml/test_reader.py's does, not how fast.
    start = time.thread_time()
    with pytest.raises(KompyError) as caught:
        load(root, text, **options)
    assert time.thread_time() - start < 5.0, "hostile input must fail fast, not hang"
    assert isinstance(caught.value, (ComposeError, MultiError))
    return caught.value


# -- interpolation in the pipeline ------------------------------------------------------------

def test_missing_required_variable_names_file_and_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, "services:\n  web:\n    image: a\n"
                               "    environment:\n      DB: ${DB_URL:?set DB_URL}\n")
    assert error.location is not None and error.location.line == 5
    assert "set DB_URL" in error.format()


def test_override_file_is_interpolated_with_its_own_positions(tmp_path: Path) -> None:
    (tmp_path / "over.yaml").write_text("services:\n  web:\n\n    image: ${TAG:?}\n")
    error = error_of(tmp_path, "services:\n  web: {image: a}\n",
                     files=("compose.yaml", "over.yaml"))
    assert error.location is not None
    assert (Path(error.location.file).name, error.location.line) == ("over.yaml", 4)


def test_no_interpolate_keeps_the_text(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web:\n    image: nginx:${TAG:-1}\n",
                   interpolate=False)
    assert project.services["web"].image == "nginx:${TAG:-1}"


def test_unset_variable_warns_and_becomes_empty(tmp_path: Path) -> None:
    diagnostics: list[Diagnostic] = []
    project = load(tmp_path, "services:\n  web:\n    image: nginx${TAG}\n", diagnostics)
    assert project.services["web"].image == "nginx"
    assert any("TAG" in d.message for d in diagnostics)


def test_environment_without_value_comes_from_the_environment(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web:\n    image: a\n"
                             "    environment: [FROM_ENV, UNSET, SET=1]\n",
                   environ={"FROM_ENV": "x"})
    assert project.services["web"].environment == {"FROM_ENV": "x", "UNSET": None, "SET": "1"}


def test_numbers_and_booleans_in_environment_become_strings(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web:\n    image: a\n"
                             "    environment: {A: 1, B: true, C: 1.5, D: yes, E: 0755}\n")
    assert project.services["web"].environment == {
        "A": "1", "B": "true", "C": "1.5", "D": "yes", "E": "493"}


def test_multiple_documents_merge_in_order(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web: {image: a}\n---\nservices:\n  web: {image: b}\n")
    assert project.services["web"].image == "b"


def test_version_key_is_obsolete(tmp_path: Path) -> None:
    diagnostics: list[Diagnostic] = []
    load(tmp_path, "version: '3.8'\nservices:\n  web: {image: a}\n", diagnostics)
    assert any("obsolete" in d.message for d in diagnostics)


def test_project_to_compose_is_stable(tmp_path: Path) -> None:
    text = "services:\n  b: {image: b, ports: ['80']}\n  a: {image: a}\n"
    first = project_to_compose(load(tmp_path, text))
    assert list(first) == ["name", "networks", "services"]
    assert list(first["services"]) == ["a", "b"]
    assert first == project_to_compose(load(tmp_path, text))


# -- hostile input: each a clear error within a second ----------------------------------------

def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in error_of(tmp_path, "").message
    assert "empty" in error_of(tmp_path, "# only a comment\n").message


@pytest.mark.parametrize("text,kind", [("- a\n- b\n", "a list"), ("hello\n", "'hello'"),
                                       ("42\n", "42")])
def test_document_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    error = error_of(tmp_path, text)
    assert error.message == f"the top level of a Compose file must be a mapping, got {kind}" \
        or kind in error.message


def test_alias_bomb(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]")
    lines.append("services: {web: {image: a, x-bomb: *a11}}")
    assert "aliases expand" in error_of(tmp_path, "\n".join(lines) + "\n").message


def test_deep_nesting(tmp_path: Path) -> None:
    text = "services: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert "nested deeper" in error_of(tmp_path, text).message


def test_duplicate_keys(tmp_path: Path) -> None:
    error = error_of(tmp_path, "services:\n  web:\n    image: a\n    image: b\n")
    assert "duplicate key 'image'" in error.message
    assert error.location is not None and error.location.line == 4


def test_tabs(tmp_path: Path) -> None:
    error = error_of(tmp_path, "services:\n\tweb:\n\t\timage: a\n")
    assert error.hint is not None and "tabs" in error.hint


def test_non_utf8(tmp_path: Path) -> None:
    error = error_of(tmp_path, b"services:\n  web:\n    image: caf\xe9\n")
    assert "not valid UTF-8" in error.message
    assert error.location is not None and error.location.line == 3


def test_nul_bytes(tmp_path: Path) -> None:
    assert "NUL" in error_of(tmp_path, b"services:\x00\n").message


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    payload = b"# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    assert "over kompy's limit" in error_of(tmp_path, payload).message


def test_very_long_include_chain(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"f{i}.yaml").write_text(f"include: [f{i + 1}.yaml]\n")
    (tmp_path / "f300.yaml").write_text("services:\n  end: {image: a}\n")
    assert "nested deeper" in error_of(tmp_path, "include: [f0.yaml]\n").message


def test_very_long_extends_chain(tmp_path: Path) -> None:
    services = "".join(f"  s{i}: {{extends: s{i + 1}}}\n" for i in range(2000))
    text = "services:\n" + services + "  s2000: {image: a}\n"
    assert "extends chain longer" in error_of(tmp_path, text).message


def test_a_folder_given_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ComposeError, match="is a folder"):
        load_project(LoadOptions(files=("dir.yaml",), cwd=str(tmp_path), environ={}))


def test_large_valid_file_loads_quickly(tmp_path: Path) -> None:
    services = "".join(
        f"  s{i}:\n    image: app:{i}\n    environment: {{N: '{i}'}}\n"
        f"    ports: ['{10000 + i}:80']\n"
        for i in range(1500))
    # This thread's CPU time (about 0.7 s), not wall time: at load 18 the same load took
    # 9.4 s of wall time. Quadratic work would take minutes of CPU either way.
    start = time.thread_time()
    project = load(tmp_path, "services:\n" + services)
    assert len(project.services) == 1500
    assert time.thread_time() - start < 5


# -- the shared corpus ------------------------------------------------------------------------

# compose-go fixtures that must be rejected, and why; every other file must load or fail with
# a ComposeError (never another exception).
MUST_FAIL = {
    "loader/testdata/compose-include-cycle.yaml": "include cycle",
    "loader/testdata/compose-depends-on-cycle.yaml": "dependency cycle",
    "loader/testdata/compose-depends-on-self.yaml": "dependency cycle",
}


def _secret_files(text: str) -> list[str]:
    from kompy.yaml.reader import load_yaml

    data = load_yaml(text, "x")[0].data
    return [s["file"] for s in (data.get("secrets") or {}).values()
            if isinstance(s, dict) and "file" in s]


def test_every_awesome_compose_sample_loads(corpus: Path, tmp_path: Path) -> None:
    samples = sorted((corpus / "awesome-compose").glob("*/compose.yaml"))
    assert len(samples) >= 20
    for compose in samples:
        project_dir = tmp_path / compose.parent.name
        project_dir.mkdir()
        shutil.copy(compose, project_dir / "compose.yaml")
        # The samples' secret files live in their repositories, not in the corpus.
        for secret in _secret_files(compose.read_text()):
            target = project_dir / secret
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("password\n")
        project = load_project(LoadOptions(cwd=str(project_dir), environ={}))
        assert project.services, compose


def test_every_compose_go_fixture_loads_or_fails_cleanly(corpus: Path) -> None:
    root = corpus / "compose-go-testdata"
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert len(files) > 30
    outcomes: dict[str, str] = {}
    for path in files:
        relative = str(path.relative_to(root))
        try:
            load_project(LoadOptions(files=(str(path),), cwd=str(path.parent), environ={}))
            outcomes[relative] = "ok"
        except (ComposeError, MultiError) as error:
            outcomes[relative] = error.format()
    for relative, reason in MUST_FAIL.items():
        assert reason in outcomes[relative], relative
    loaded = [r for r, outcome in outcomes.items() if outcome == "ok"]
    assert len(loaded) >= 25, outcomes


# -- mutations: whatever the shape of a value, the loader reports a KompyError ----------------

_MUTATION_BASE: dict[str, Any] = {
    "services": {
        "web": {
            "image": "a", "build": {"context": ".", "args": {"A": "1"}},
            "ports": ["80:80", {"target": 1, "published": 2}],
            "volumes": ["data:/data", "./x:/x", {"type": "bind", "source": ".", "target": "/y"}],
            "environment": {"A": "1"}, "env_file": ["a.env"],
            "depends_on": {"db": {"condition": "service_started"}},
            "healthcheck": {"test": ["CMD", "true"], "interval": "10s"},
            "deploy": {"replicas": 2, "resources": {"limits": {"memory": "1g"}}},
            "secrets": ["s"], "configs": [{"source": "c", "target": "/c"}],
            "networks": {"front": {"aliases": ["w"]}}, "labels": ["a=b"],
            "extra_hosts": ["h:1.2.3.4"], "command": "run", "logging": {"driver": "json-file"},
            "develop": {"watch": [{"path": ".", "action": "sync", "target": "/app"}]},
            "ulimits": {"nofile": {"soft": 1, "hard": 2}},
        },
        "db": {"image": "db", "extends": "base", "profiles": ["x"]},
        "base": {"image": "b"},
    },
    "volumes": {"data": {}}, "networks": {"front": {}}, "secrets": {"s": {"file": "s.txt"}},
    "configs": {"c": {"content": "x"}},
}
_ODD_VALUES: list[Any] = [None, 1, -5, 0.5, True, "x", "", [], [1], ["a"], {}, {"a": 1},
                          {"a": [1]}, [{}], "a=b"]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found += _paths(item, (*path, key))
    return found


def _mutate(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def test_mutated_projects_fail_only_with_kompy_errors(tmp_path: Path) -> None:
    import contextlib
    import copy
    import json
    import random

    rng = random.Random(20261125)
    outcomes = {"loaded": 0, "refused": 0}
    paths = _paths(_MUTATION_BASE)
    (tmp_path / "a.env").write_text("A=1\n")
    (tmp_path / "s.txt").write_text("s")
    for _ in range(120):
        files = []
        for name in ("compose.yaml", "override.yaml"):
            data = copy.deepcopy(_MUTATION_BASE)
            for path in rng.sample(paths, rng.randint(0, 2)):
                # An earlier mutation may have replaced the parent of this path.
                with contextlib.suppress(TypeError, KeyError, IndexError):
                    _mutate(data, path, copy.deepcopy(rng.choice(_ODD_VALUES)))
            (tmp_path / name).write_text(json.dumps(data))
            files.append(name)
        try:
            load_project(LoadOptions(files=tuple(files), cwd=str(tmp_path), environ={},
                                     profiles=("*",)))
            outcomes["loaded"] += 1
        except KompyError:
            outcomes["refused"] += 1
    # Both kinds happen, so the mutations exercise the whole pipeline, not only the schema.
    assert outcomes["loaded"] > 5 and outcomes["refused"] > 50, outcomes
