"""Semantic checks beyond the schema: references, cycles, port clashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.errors import ComposeError, Diagnostic, KompyError, MultiError
from kompy.model import Project


def load(tmp_path: Path, text: str, diagnostics: list[Diagnostic] | None = None) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path), environ={}),
                        diagnostics)


def problems(tmp_path: Path, text: str) -> list[KompyError]:
    with pytest.raises((ComposeError, MultiError)) as caught:
        load(tmp_path, text)
    error = caught.value
    return list(error.errors) if isinstance(error, MultiError) else [error]


def test_unknown_dependency_with_hint_and_position(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  web:\n    image: a\n    depends_on: [dbb]\n"
                                 "  db:\n    image: b\n")
    assert error.message == "service 'dbb' is not defined"
    assert error.hint == "did you mean 'db'?"
    assert error.key_path == ("services", "web", "depends_on", 0)
    assert error.location is not None and error.location.line == 4


@pytest.mark.parametrize("key,value", [
    ("links", "['cache:c']"), ("network_mode", "'service:cache'"), ("ipc", "'service:cache'"),
    ("volumes_from", "['cache:ro']"),
])
def test_other_service_references(tmp_path: Path, key: str, value: str) -> None:
    [error] = problems(tmp_path, f"services:\n  web:\n    image: a\n    {key}: {value}\n")
    assert error.message == "service 'cache' is not defined"


@pytest.mark.parametrize("kind,service_key", [
    ("volume", "volumes: ['data:/data']"),
    ("volume", "volumes: [{type: volume, source: data, target: /data}]"),
    ("secret", "secrets: [data]"),
    ("config", "configs: [{source: data, target: /etc/x}]"),
    ("network", "networks: [data]"),
    ("network", "networks: {data: {aliases: [x]}}"),
])
def test_undefined_resources(tmp_path: Path, kind: str, service_key: str) -> None:
    [error] = problems(tmp_path, f"services:\n  web:\n    image: a\n    {service_key}\n")
    assert error.message == f"{kind} 'data' is not defined"
    assert error.hint == f"declare it under the top-level {kind}s: key"


def test_bind_mounts_and_default_network_need_no_declaration(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web:\n    image: a\n"
                             "    volumes: ['./src:/src', '/tmp:/tmp', '~/x:/x', '/anon']\n"
                             "    networks: [default]\n")
    assert len(project.services["web"].volumes) == 4


def test_network_mode_and_networks_are_exclusive(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  web:\n    image: a\n    network_mode: host\n"
                                 "    networks: [default]\n")
    assert "cannot be used together" in error.message


def test_dependency_cycle_names_the_chain(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  a: {image: a, depends_on: [b]}\n"
                                 "  b: {image: b, depends_on: {c: {condition: service_started}}}"
                                 "\n  c: {image: c, depends_on: [a]}\n")
    assert error.message == "dependency cycle: a -> b -> c -> a"


def test_self_dependency(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  a: {image: a, depends_on: [a]}\n")
    assert error.message == "dependency cycle: a -> a"


def test_all_reference_problems_at_once(tmp_path: Path) -> None:
    errors = problems(tmp_path, "services:\n  web:\n    image: a\n    depends_on: [x]\n"
                                "    secrets: [s]\n    volumes: ['vol:/v']\n")
    assert len(errors) == 3


@pytest.mark.parametrize("name", ["compose-depends-on-cycle.yaml",
                                  "compose-depends-on-self.yaml"])
def test_corpus_cycles_are_rejected(corpus: Path, name: str) -> None:
    path = corpus / "compose-go-testdata/loader/testdata" / name
    with pytest.raises(ComposeError, match="dependency cycle"):
        load_project(LoadOptions(files=(str(path),), environ={}, cwd=str(path.parent)))


def test_same_host_port_twice_is_a_warning(tmp_path: Path) -> None:
    diagnostics: list[Diagnostic] = []
    load(tmp_path, "services:\n  a: {image: a, ports: ['8080:80']}\n"
                   "  b: {image: b, ports: [{target: 81, published: 8080}, '127.0.0.1:9000:1']}"
                   "\n  c: {image: c, ports: ['127.0.0.2:9000:1', '8080:80/udp']}\n",
         diagnostics)
    assert [d.message for d in diagnostics] == [
        "host port 8080/tcp is also published by service 'a'"]
    assert diagnostics[0].key_path == ("services", "b", "ports", 0)
