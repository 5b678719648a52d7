"""Whole projects: top-level definitions, implicit defaults, round trip, stability, corpus."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from kompy.model import NetworkDef, NullLocator, Project, SecretDef, VolumeDef
from kompy.yaml.reader import load_yaml

from .helpers import WORKDIR, DocLocator, errors, project, round_trip, where


def test_top_level_definitions() -> None:
    p = project("""
        services:
          s: {image: x}
        volumes:
          data:
          named: {name: real-name, driver: local, driver_opts: {type: none, o: bind, device: ./d}}
          old: {external: {name: legacy}}
          ext: {external: true}
        networks:
          front: {driver: bridge, internal: true, ipam: {config: [{subnet: 10.0.0.0/24}]}}
        secrets:
          token: {file: ./secrets/t.txt}
          env: {environment: TOKEN}
          outside: {external: true, name: prod_token}
        configs:
          inline: {content: "a=1"}
          file: {file: /etc/app.ini, labels: [k=v]}
    """)
    assert p.volumes["data"] == VolumeDef(name="data")
    assert p.volumes["named"].driver_opts["device"] == f"{WORKDIR}/d"
    assert p.volumes["old"] == VolumeDef(name="old", external=True, external_name="legacy")
    assert p.volumes["ext"] == VolumeDef(name="ext", external=True)
    assert p.networks["front"].internal and "ipam" in p.networks["front"].extra
    assert p.secrets["token"] == SecretDef(name="token", file=f"{WORKDIR}/secrets/t.txt")
    assert p.configs["file"].labels == {"k": "v"}
    out = p.to_compose()
    assert out["volumes"]["data"] == {"name": "proj_data"}
    assert out["volumes"]["ext"] == {"external": True, "name": "ext"}
    assert out["volumes"]["old"] == {"external": True, "name": "legacy"}
    assert out["secrets"]["outside"] == {"external": True, "name": "prod_token"}
    assert out["configs"]["inline"] == {"content": "a=1", "name": "proj_inline"}
    assert out["networks"]["default"] == {"name": "proj_default"}


def test_default_network_only_when_used() -> None:
    p = project("services: {s: {image: x, network_mode: host}}")
    assert p.networks == {}
    p = project("services: {s: {image: x}}")
    assert p.networks == {"default": NetworkDef(name="default")}


def test_undeclared_references_are_errors_with_positions() -> None:
    errs = errors("""
        services:
          s:
            image: x
            networks: [front]
            secrets: [nope]
    """)
    assert [(where(e), e.message) for e in errs] == [
        ("5:16", "network 'front' is not declared"),
        ("6:15", "secret 'nope' is not declared"),
    ]


def test_definition_errors() -> None:
    errs = errors("""
        services: {}
        secrets:
          empty: {}
          both: {file: a, environment: B}
        volumes:
          v: {name: a, external: {name: b}}
    """)
    messages = sorted(e.message for e in errs)
    assert any("needs file or environment" in m for m in messages)
    assert any("only one of" in m for m in messages)
    assert any("external.name" in m for m in messages)


def test_errors_from_several_services_are_collected_and_sorted() -> None:
    errs = errors("""
        services:
          b: {image: x, ports: ["0"]}
          a: {image: x, restart: never}
    """)
    assert [e.key_path[1] for e in errs] == ["b", "a"]  # by line, not by name


SAMPLE = """
name: ignored-by-model
services:
  web:
    build: ./web
    command: python app.py --port 8000
    ports: ["8000:8000", "127.0.0.1:9000-9001:9000-9001/udp"]
    environment: [DEBUG=1, TOKEN]
    env_file: [.env]
    volumes: ["./src:/src:ro", "data:/data", /cache]
    depends_on: [db]
    healthcheck: {test: curl -f localhost, interval: 30s}
    deploy: {resources: {limits: {cpus: '0.5', memory: 256m}}}
    secrets: [token]
    x-note: keep me
  db:
    image: postgres:16
    volumes: [{type: volume, source: data, target: /var/lib/postgresql/data}]
volumes:
  data:
secrets:
  token: {file: ./token.txt}
x-top: {a: 1}
"""


def test_round_trip_gives_an_equal_project() -> None:
    p = project(SAMPLE)
    assert round_trip(p) == p
    assert round_trip(round_trip(p)).to_compose() == p.to_compose()


def test_rendering_is_stable_and_sorted() -> None:
    first = json.dumps(project(SAMPLE).to_compose())
    second = json.dumps(project(SAMPLE).to_compose())
    assert first == second

    def check(value: object) -> None:
        if isinstance(value, dict):
            assert list(value) == sorted(value), list(value)
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)

    check(project(SAMPLE).to_compose())


def test_secret_content_is_never_rendered() -> None:
    p = project(SAMPLE)
    p = replace(p, secrets={"token": replace(p.secrets["token"], content=b"hunter2-s3cret")})
    assert "hunter2-s3cret" not in json.dumps(p.to_compose())
    assert "hunter2-s3cret" not in repr(p)


def test_base_dir_per_path() -> None:
    data = load_yaml("services: {s: {build: ., volumes: ['./a:/a']}}", "x.yaml")[0].data
    p = Project.parse(data, name="p", working_dir="/w", locator=NullLocator(),
                      base_dir=lambda path: "/w/sub" if path[:2] == ("services", "s") else "/w")
    s = p.services["s"]
    assert s.build is not None and s.build.context == "/w/sub"
    assert s.volumes[0].source == "/w/sub/a"


def _load(path: Path) -> tuple[object, DocLocator]:
    doc = load_yaml(path.read_text(), str(path))[0]
    return doc.data, DocLocator(doc)


def test_full_example_matches_compose_go(corpus: Path) -> None:
    """compose-go's own "every attribute" example, as its tests expect it normalised."""
    data, at = _load(corpus / "compose-go-testdata" / "loader" / "full-example.yml")
    assert isinstance(data, dict)
    # The example attaches an undeclared network, which `docker compose config` rejects.
    del data["services"]["foo"]["networks"]["other-other-network"]
    p = Project.parse(data, name="full_example_project_name", working_dir="/w", locator=at)
    foo = p.to_compose()["services"]["foo"]
    assert foo["command"] == ["bundle", "exec", "thin", "-p", "3000"]
    assert foo["extra_hosts"] == ["otherhost=50.31.209.229", "somehost=162.242.195.82"]
    assert foo["labels"] == {"com.example.description": "Accounting webapp",
                             "com.example.empty-label": "", "com.example.number": "42"}
    assert foo["sysctls"] == {"net.core.somaxconn": "1024", "net.ipv4.tcp_syncookies": "0"}
    assert foo["deploy"]["resources"]["limits"] == {"cpus": 0.001, "memory": 52428800}
    assert foo["deploy"]["restart_policy"]["window"] == "2m0s"
    assert foo["healthcheck"]["test"] == ["CMD-SHELL", 'echo "hello world"']
    assert len(foo["ports"]) == 22 and foo["ports"][6] == {
        "mode": "ingress", "protocol": "tcp", "published": "8000", "target": 8000}
    assert foo["configs"][1] == {"gid": "103", "mode": 288, "source": "config2",
                                 "target": "/my_config", "uid": "103"}
    assert foo["volumes"][-2] == {"consistency": "cached", "source": "/w/opt",
                                  "target": "/opt/cached", "type": "bind"}
    assert p.to_compose()["secrets"]["secret2"] == {"external": True, "name": "my_secret"}
    assert round_trip(p) == p


def test_every_awesome_compose_service_parses(corpus: Path) -> None:
    files = sorted((corpus / "awesome-compose").glob("*/compose.yaml"))
    assert len(files) >= 20
    for path in files:
        data, at = _load(path)
        assert isinstance(data, dict)
        p = Project.parse(data, name=path.parent.name.lower(), working_dir=str(path.parent),
                          locator=at)
        assert p.services, path
        assert round_trip(p) == p, path


@pytest.mark.parametrize("name", ["compose-test-with-version.yaml", "empty.yaml"])
def test_loader_testdata_simple_files(corpus: Path, name: str) -> None:
    path = corpus / "compose-go-testdata" / "loader" / "testdata" / name
    docs = load_yaml(path.read_text(), str(path))
    data = docs[0].data if docs else {}
    Project.parse(data or {}, name="t", working_dir="/w", locator=NullLocator())


_ODD_VALUES: list[object] = [
    None, 0, -1, 1.5, True, "x", "", "a:b:c", [], {}, [None], [1], [True], [{}], ["x"],
    {"a": None}, {"a": [1]}, [[1]], {"a": {"b": 1}}, [{"target": [1]}], [{"type": "bind"}],
    [{"path": 1, "action": "sync"}], {"watch": [{"path": None, "action": "sync"}]},
    {"test": 5}, {"test": [1]}, {"limits": 5}, {"resources": {"limits": {"cpus": [1]}}},
    {"placement": {"preferences": [{"spread": None}]}}, {"placement": 5},
    {"restart_policy": {"max_attempts": "x"}}, {"options": 5}, {"driver": [1]},
    [{"source": None}], {"soft": "x", "hard": 1}, {"x": {"soft": 1}}, {"db": 5},
    {"db": {"condition": None}}, {"context": 5}, {"args": 5},
    {"dockerfile": 1, "dockerfile_inline": "x"},
]


def test_values_of_the_wrong_shape_are_user_errors_never_crashes() -> None:
    from kompy.errors import KompyError
    from kompy.model.service import KEYS as HANDLERS

    for key in HANDLERS:
        for value in _ODD_VALUES:
            data = {"services": {"s": {"image": "x", key: value}}}
            try:
                Project.parse(data, name="p", working_dir="/w", locator=NullLocator()).to_compose()
            except KompyError as e:
                assert e.exit_code == 2, (key, value, e)
    for section in ("volumes", "networks", "secrets", "configs", "services"):
        for value in _ODD_VALUES:
            for data in ({section: value}, {section: {"k": value}}):
                try:
                    Project.parse(data, name="p", working_dir="/w", locator=NullLocator())
                except KompyError as e:
                    assert e.exit_code == 2, (section, value, e)


def test_compose_go_testdata_parses_or_fails_cleanly(corpus: Path) -> None:
    """Uninterpolated files (${VAR} ports) and !reset tags fail as user errors, no crash."""
    from kompy.errors import KompyError

    parsed = 0
    for path in sorted((corpus / "compose-go-testdata").rglob("*.y*ml")):
        for doc in load_yaml(path.read_text(), str(path)):
            try:
                p = Project.parse(doc.data or {}, name="t", working_dir="/w",
                                  locator=DocLocator(doc))
            except KompyError as e:
                assert e.exit_code == 2 and e.location is not None, (path, e)
                continue
            assert round_trip(p) == p, path
            parsed += 1
    assert parsed >= 30


def test_network_driver_opts_and_build_secrets_are_normalised() -> None:
    p = project("""
        services:
          s: {build: {context: ., secrets: [token, {source: key, target: k}]}}
        networks:
          default: {driver_opts: {mtu: 1400, flag: true}}
        secrets: {token: {file: t}, key: {file: k}}
    """)
    assert p.networks["default"].extra["driver_opts"] == {"flag": "true", "mtu": "1400"}
    build = p.services["s"].build
    assert build is not None
    assert build.extra["secrets"] == [{"source": "token"}, {"source": "key", "target": "k"}]
    assert round_trip(p) == p
