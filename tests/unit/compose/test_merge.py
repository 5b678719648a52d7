"""Override-file merge rules (Compose Specification "merge"), each with the files that show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.compose.merge import merge_projects, strip_tags, volume_target
from kompy.model import Project
from kompy.yaml.reader import load_yaml


def _doc(text: str) -> Any:
    return load_yaml(text, "x.yaml")[0].data


def merged(base: str, *overrides: str) -> dict[str, Any]:
    data = _doc(base)
    for text in overrides:
        data = merge_projects(data, _doc(text))
    result: dict[str, Any] = strip_tags(data)
    return result


def web(base: str, *overrides: str) -> dict[str, Any]:
    service: dict[str, Any] = merged(base, *overrides)["services"]["web"]
    return service


def load_files(tmp_path: Path, *texts: str, **options: Any) -> Project:
    names = []
    for i, text in enumerate(texts):
        name = "compose.yaml" if i == 0 else f"override{i}.yaml"
        (tmp_path / name).write_text(text)
        names.append(name)
    return load_project(LoadOptions(files=tuple(names), cwd=str(tmp_path), environ={},
                                    **options))


def test_mappings_are_merged_key_by_key() -> None:
    result = web(
        "services: {web: {image: a, user: root, working_dir: /app}}",
        "services: {web: {image: b, hostname: h}}",
    )
    assert result == {"image": "b", "user": "root", "working_dir": "/app", "hostname": "h"}


def test_new_services_and_top_level_keys_are_added() -> None:
    result = merged("services: {web: {image: a}}",
                    "services: {db: {image: d}}\nvolumes: {data: {}}")
    assert set(result["services"]) == {"web", "db"}
    assert result["volumes"] == {"data": {}}


def test_plain_sequences_are_appended_and_deduplicated() -> None:
    result = web(
        "services: {web: {image: a, dns: [1.1.1.1], expose: ['80'], cap_add: [NET_ADMIN]}}",
        "services: {web: {dns: [8.8.8.8, 1.1.1.1], expose: ['80', '81'], cap_add: [SYS_TIME]}}",
    )
    assert result["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert result["expose"] == ["80", "81"]
    assert result["cap_add"] == ["NET_ADMIN", "SYS_TIME"]


def test_ports_are_appended_and_identical_ones_kept_once() -> None:
    result = web(
        "services: {web: {image: a, ports: ['8080:80', {target: 443, published: 8443}]}}",
        "services: {web: {ports: ['8080:80', '9090:90', {target: 443, published: 8443}]}}",
    )
    assert result["ports"] == ["8080:80", {"target": 443, "published": 8443}, "9090:90"]


def test_command_entrypoint_and_healthcheck_test_are_replaced() -> None:
    result = web(
        "services: {web: {image: a, command: [echo, foo], entrypoint: [sh, -c],"
        " healthcheck: {test: [CMD, a], retries: 3}}}",
        "services: {web: {command: [echo, bar], entrypoint: [bash],"
        " healthcheck: {test: [CMD, b]}}}",
    )
    assert result["command"] == ["echo", "bar"]
    assert result["entrypoint"] == ["bash"]
    assert result["healthcheck"] == {"test": ["CMD", "b"], "retries": 3}


def test_environment_merged_by_key_across_list_and_mapping_forms() -> None:
    result = web(
        "services: {web: {image: a, environment: [A=1, B=2, C]}}",
        "services: {web: {environment: {B: '3', D: '4'}}}",
    )
    assert result["environment"] == {"A": "1", "B": "3", "C": None, "D": "4"}


@pytest.mark.parametrize("key", ["labels", "annotations", "sysctls"])
def test_key_value_attributes_merged_by_key(key: str) -> None:
    result = web(
        f"services: {{web: {{image: a, {key}: {{a.b: x, c: y}}}}}}",
        f"services: {{web: {{{key}: [a.b=z, e=f]}}}}",
    )
    assert result[key] == {"a.b": "z", "c": "y", "e": "f"}


def test_extra_hosts_merged_by_host() -> None:
    result = web(
        "services: {web: {image: a, extra_hosts: ['db:10.0.0.1', 'cache=10.0.0.2']}}",
        "services: {web: {extra_hosts: {db: 10.0.0.9}}}",
    )
    assert result["extra_hosts"] == {"db": "10.0.0.9", "cache": "10.0.0.2"}


def test_volumes_merged_by_target() -> None:
    result = web(
        "services: {web: {image: a, volumes: ['./a:/data', 'logs:/logs', '/tmp:/tmp']}}",
        "services: {web: {volumes: ['./b:/data:ro', {type: volume, source: l2, target: /logs}]}}",
    )
    assert result["volumes"] == [
        "./b:/data:ro", {"type": "volume", "source": "l2", "target": "/logs"}, "/tmp:/tmp",
    ]


def test_volume_target_of_each_syntax() -> None:
    assert volume_target("/data") == "/data"
    assert volume_target("named:/data:ro") == "/data"
    assert volume_target("C:\\x:/data") == "/data"
    assert volume_target({"type": "bind", "source": ".", "target": "/src"}) == "/src"


def test_secrets_and_configs_merged_by_target() -> None:
    result = web(
        "services: {web: {image: a, secrets: [token, {source: key, target: /k}],"
        " configs: [{source: c1, target: /etc/app.conf}]}}",
        "services: {web: {secrets: [{source: token, mode: 0400}, {source: key2, target: /k}],"
        " configs: [{source: c2, target: /etc/app.conf}]}}",
    )
    # "token" is mounted at /run/secrets/token in both, so the override replaces it.
    assert result["secrets"] == [{"source": "token", "mode": 0o400}, {"source": "key2",
                                                                     "target": "/k"}]
    assert result["configs"] == [{"source": "c2", "target": "/etc/app.conf"}]


def test_depends_on_short_and_long_forms_merged_by_service() -> None:
    result = web(
        "services: {web: {image: a, depends_on: [db, cache]}}",
        "services: {web: {depends_on: {db: {condition: service_healthy}}}}",
    )
    assert result["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "cache": {"condition": "service_started", "required": True},
    }


def test_networks_list_and_mapping_merged_by_name() -> None:
    result = web(
        "services: {web: {image: a, networks: [front, back]}}",
        "services: {web: {networks: {back: {aliases: [api]}}}}",
    )
    assert result["networks"] == {"front": None, "back": {"aliases": ["api"]}}


def test_build_string_and_mapping_forms_merge() -> None:
    result = web(
        "services: {web: {build: ./app}}",
        "services: {web: {build: {args: {V: '1'}, target: prod}}}",
    )
    assert result["build"] == {"context": "./app", "args": {"V": "1"}, "target": "prod"}


def test_logging_options_merge_only_with_the_same_driver() -> None:
    same = web(
        "services: {web: {image: a, logging: {driver: json-file, options: {max-size: 1m}}}}",
        "services: {web: {logging: {options: {max-file: '3'}}}}",
    )
    assert same["logging"] == {"driver": "json-file",
                               "options": {"max-size": "1m", "max-file": "3"}}
    other = web(
        "services: {web: {image: a, logging: {driver: json-file, options: {max-size: 1m}}}}",
        "services: {web: {logging: {driver: syslog}}}",
    )
    assert other["logging"] == {"driver": "syslog"}


def test_reset_tag_removes_the_value() -> None:
    result = web(
        "services: {web: {image: a, ports: ['80:80'], environment: {A: '1', B: '2'}}}",
        "services:\n  web:\n    ports: !reset []\n    environment:\n      A: !reset null\n",
    )
    assert "ports" not in result
    assert result["environment"] == {"B": "2"}


def test_override_tag_replaces_instead_of_merging() -> None:
    result = web(
        "services: {web: {image: a, ports: ['80:80'], environment: {A: '1'}}}",
        "services:\n  web:\n    ports: !override ['9090:90']\n"
        "    environment: !override {B: '2'}\n",
    )
    assert result["ports"] == ["9090:90"]
    assert result["environment"] == {"B": "2"}


def test_tags_in_a_single_file_are_applied() -> None:
    assert strip_tags(_doc("a: !reset 1\nb: !override {c: 2}\nd: [!reset x, y]")) == {
        "b": {"c": 2}, "d": ["y"],
    }


def test_merge_does_not_mutate_its_inputs() -> None:
    base = _doc("services: {web: {image: a, ports: ['1:1']}}")
    over = _doc("services: {web: {ports: ['2:2']}}")
    merge_projects(base, over)
    assert base == {"services": {"web": {"image": "a", "ports": ["1:1"]}}}


def test_override_files_merge_through_the_loader(tmp_path: Path) -> None:
    project = load_files(
        tmp_path,
        "services:\n  web:\n    image: web:1\n    ports: ['8080:80']\n"
        "    environment: [A=1]\n    command: [serve]\n",
        "services:\n  web:\n    image: web:2\n    ports: ['8443:443']\n"
        "    environment: {B: '2'}\n    command: [serve, --debug]\n",
    )
    service = project.services["web"]
    assert service.image == "web:2"
    assert [p.target for p in service.ports] == [80, 443]
    assert service.environment == {"A": "1", "B": "2"}
    assert service.command == ("serve", "--debug")


def test_error_after_merge_points_at_the_override_file(tmp_path: Path) -> None:
    from kompy.errors import KompyError

    with pytest.raises(KompyError) as caught:
        load_files(tmp_path, "services:\n  web:\n    image: a\n",
                   "services:\n  web:\n    restart: 12\n")
    text = caught.value.format()
    assert "override1.yaml:3:" in text and "services.web.restart" in text


def test_null_override_keeps_the_base_value() -> None:
    result = web("services: {web: {image: a, environment: {A: '1'}}}",
                 "services: {web: {image: null, environment: null}}")
    assert result == {"image": "a", "environment": {"A": "1"}}


def test_placement_constraints_are_unique() -> None:
    result = web(
        "services: {web: {image: a, deploy: {placement: {constraints: [node.role==worker]}}}}",
        "services: {web: {deploy: {placement: {constraints: [node.role==worker, zone==a,"
        " node.role==manager]}}}}",
    )
    assert result["deploy"]["placement"]["constraints"] == [
        "node.role==worker", "zone==a", "node.role==manager"]


def test_appended_string_lists_stay_unique() -> None:
    result = web("services: {web: {image: a, networks: {front: {aliases: [w, x]}}}}",
                 "services: {web: {networks: {front: {aliases: [x, y]}}}}")
    assert result["networks"]["front"]["aliases"] == ["w", "x", "y"]


def test_a_file_merged_with_itself_is_unchanged(tmp_path: Path) -> None:
    text = ("services:\n  web:\n    image: a\n    ports: ['80:80']\n    volumes: ['d:/d']\n"
            "    networks: {n: {aliases: [w]}}\n    environment: [A=1]\n    dns: [1.1.1.1]\n"
            "    profiles: [p]\nvolumes: {d: {}}\nnetworks: {n: {}}\n")
    (tmp_path / "compose.yaml").write_text(text)
    options = {"cwd": str(tmp_path), "environ": {}, "profiles": ("p",)}
    once = load_project(LoadOptions(files=("compose.yaml",), **options))  # type: ignore[arg-type]
    twice = load_project(LoadOptions(files=("compose.yaml", "compose.yaml"),
                                     **options))  # type: ignore[arg-type]
    assert once.services == twice.services


def test_string_or_list_keys_accept_a_single_string() -> None:
    result = web("services: {web: {image: a, dns: 1.1.1.1, env_file: a.env}}",
                 "services: {web: {dns: [8.8.8.8], env_file: b.env}}")
    assert result["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert result["env_file"] == ["a.env", "b.env"]


def test_an_invalid_override_is_not_hidden_by_the_merge(tmp_path: Path) -> None:
    from kompy.errors import KompyError

    with pytest.raises(KompyError, match="services.web.ports: expected a list"):
        load_files(tmp_path, "services:\n  web:\n    image: a\n    ports: ['80:80']\n",
                   "services:\n  web:\n    ports: '81:81'\n")


def test_ulimits_devices_and_ipam_config() -> None:
    result = merged(
        "services:\n  web:\n    image: a\n    ulimits: {nproc: 100, nofile: {soft: 1, hard: 2}}\n"
        "    devices: ['/dev/a:/dev/x', '/dev/b:/dev/y']\n"
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}]\n",
        "services:\n  web:\n    ulimits: {nproc: 200, nofile: {hard: 4}}\n"
        "    devices: ['/dev/c:/dev/x']\n"
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.9},"
        " {subnet: 10.1.0.0/24}]\n",
    )
    web_service = result["services"]["web"]
    assert web_service["ulimits"] == {"nproc": 200, "nofile": {"soft": 1, "hard": 4}}
    assert web_service["devices"] == ["/dev/c:/dev/x", "/dev/b:/dev/y"]
    assert result["networks"]["n"]["ipam"]["config"] == [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.9"}, {"subnet": "10.1.0.0/24"}]
