"""Service keys: each short syntax to the long form, and back."""

from __future__ import annotations

import pytest

from kompy.model import (
    Build,
    ByteSize,
    Dependency,
    Duration,
    EnvFile,
    Healthcheck,
    ServiceFileRef,
    ServiceNetwork,
)

from .helpers import WORKDIR, rendered, service, service_errors, where

# -- environment, labels, sysctls --------------------------------------------------------------

def test_environment_list_and_mapping_agree() -> None:
    as_list = service("""
        image: x
        environment: ["A=1", "B=", "C", "D=x=y"]
    """)
    as_map = service("""
        image: x
        environment: {A: 1, B: "", C: null, D: "x=y"}
    """)
    assert as_list.environment == as_map.environment == {
        "A": "1", "B": "", "C": None, "D": "x=y"}


def test_environment_scalars_become_strings_as_compose_does() -> None:
    s = service("""
        image: x
        environment: {T: true, F: false, I: 42, R: 1.5, BIG: 1000000.0, OCT: 0755, N: null}
    """)
    assert s.environment == {"BIG": "1e+06", "F": "false", "I": "42", "N": None,
                             "OCT": "493", "R": "1.5", "T": "true"}


def test_environment_renders_sorted_with_env_file_values_under_it() -> None:
    from dataclasses import replace

    s = service("""
        image: x
        env_file: [a.env]
        environment: {B: from-env, A: "1"}
    """)
    s = replace(s, env_files=(replace(s.env_files[0], values={"B": "file", "Z": "z"}),))
    assert list(s.to_compose()["environment"].items()) == [
        ("A", "1"), ("B", "from-env"), ("Z", "z")]


def test_labels_and_annotations() -> None:
    s = service("""
        image: x
        labels: ["a=1", "empty", "b=x=y"]
        annotations: {n: 42, t: true, e: null}
    """)
    assert s.labels == {"a": "1", "b": "x=y", "empty": ""}
    assert s.annotations == {"e": "", "n": "42", "t": "true"}


def test_sysctls_list_or_mapping() -> None:
    assert service("image: x\nsysctls: [net.core.somaxconn=1024]").sysctls == {
        "net.core.somaxconn": "1024"}
    assert service("image: x\nsysctls: {net.ipv4.tcp_syncookies: 0}").sysctls == {
        "net.ipv4.tcp_syncookies": "0"}


def test_env_file_forms() -> None:
    s = service("""
        image: x
        env_file: .env
    """)
    assert s.env_files == (EnvFile(path=f"{WORKDIR}/.env"),)
    s = service("""
        image: x
        env_file: [a.env, {path: ./b.env, required: false, format: raw}]
    """)
    assert s.env_files == (EnvFile(f"{WORKDIR}/a.env"),
                           EnvFile(f"{WORKDIR}/b.env", required=False, format="raw"))
    assert s.to_compose()["env_file"] == [
        f"{WORKDIR}/a.env", {"format": "raw", "path": f"{WORKDIR}/b.env", "required": False}]


# -- command, entrypoint, healthcheck ------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("command: bundle exec thin -p 3000", ("bundle", "exec", "thin", "-p", "3000")),
    ("command: sh -c 'echo \"hi there\" && ls'", ("sh", "-c", 'echo "hi there" && ls')),
    ('command: ["a", "b c"]', ("a", "b c")),
    ("command: []", ()),
    ("command: null", None),
    ("command: [echo, 1, true]", ("echo", "1", "true")),
])
def test_command(text: str, words: tuple[str, ...] | None) -> None:
    assert service("image: x\n" + text).command == words


def test_empty_command_is_kept_when_rendered() -> None:
    assert rendered("image: x\ncommand: []\nentrypoint: ''")["command"] == []
    assert rendered("image: x\nentrypoint: ''")["entrypoint"] == []


def test_unbalanced_quotes_are_an_error() -> None:
    (err,) = service_errors("image: x\ncommand: echo 'oops")
    assert "cannot split" in err.message and where(err) == "4:5"


def test_healthcheck_string_and_durations() -> None:
    s = service("""
        image: x
        healthcheck:
          test: echo "hello world"
          interval: 1m30s
          timeout: 500ms
          start_period: 90
          retries: 5
    """)
    assert s.healthcheck == Healthcheck(
        test=("CMD-SHELL", 'echo "hello world"'), interval=Duration(90 * 10**9),
        timeout=Duration(500 * 10**6), start_period=Duration(90 * 10**9), retries=5)
    assert s.to_compose()["healthcheck"] == {
        "interval": "1m30s", "retries": 5, "start_period": "1m30s",
        "test": ["CMD-SHELL", 'echo "hello world"'], "timeout": "500ms"}


def test_healthcheck_list_none_and_disable() -> None:
    assert service("image: x\nhealthcheck: {test: [CMD, curl, -f, x]}").healthcheck == \
        Healthcheck(test=("CMD", "curl", "-f", "x"))
    assert service("image: x\nhealthcheck: {test: [NONE]}").healthcheck == \
        Healthcheck(test=("NONE",))
    assert service("image: x\nhealthcheck: {test: NONE}").healthcheck == \
        Healthcheck(test=("NONE",))
    assert rendered("image: x\nhealthcheck: {disable: true}")["healthcheck"] == {
        "disable": True}


def test_healthcheck_errors_are_collected() -> None:
    errs = service_errors("""
        image: x
        healthcheck:
          test: [curl, x]
          interval: soon
          retries: many
    """)
    assert [e.key_path[-1] for e in errs] == [0, "interval", "retries"]
    assert "CMD, CMD-SHELL or NONE" in errs[0].message
    assert "invalid duration" in errs[1].message


# -- depends_on, networks, secrets ---------------------------------------------------------------

def test_depends_on_list_and_mapping() -> None:
    assert service("image: x\ndepends_on: [db, cache]").depends_on == {
        "cache": Dependency(), "db": Dependency()}
    s = service("""
        image: x
        depends_on:
          db: {condition: service_healthy, restart: true}
          init: {condition: service_completed_successfully, required: false}
    """)
    assert s.depends_on == {
        "db": Dependency("service_healthy", required=True, restart=True),
        "init": Dependency("service_completed_successfully", required=False)}
    assert s.to_compose()["depends_on"] == {
        "db": {"condition": "service_healthy", "required": True, "restart": True},
        "init": {"condition": "service_completed_successfully", "required": False}}


def test_depends_on_bad_condition() -> None:
    (err,) = service_errors("image: x\ndepends_on: {db: {condition: service_ready}}")
    assert "unknown condition" in err.message
    assert err.key_path == ("services", "s", "depends_on", "db", "condition")


def test_links_and_service_namespaces_imply_depends_on() -> None:
    s = service("""
        image: x
        links: ["db:database"]
        network_mode: service:vpn
        volumes_from: ["data:ro", "container:abc"]
    """)
    assert s.depends_on == {"data": Dependency(), "db": Dependency(restart=True),
                            "vpn": Dependency(restart=True)}
    assert s.networks == {}  # network_mode set: no implicit default network


def test_default_network_when_none_given() -> None:
    s = service("image: x")
    assert s.networks == {"default": ServiceNetwork()}
    assert s.to_compose()["networks"] == {"default": None}


def test_service_networks_list_and_mapping() -> None:
    from .helpers import project

    p = project("""
        services:
          s:
            image: x
            networks:
              front: {aliases: [web], ipv4_address: 10.0.0.2, mac_address: "02:42:ac:11:65:43"}
              back:
          t:
            image: x
            networks: [back]
        networks: {front: {}, back: {}}
    """)
    s, t = p.services["s"], p.services["t"]
    assert t.networks == {"back": ServiceNetwork()}
    assert s.networks["front"] == ServiceNetwork(
        aliases=("web",), ipv4_address="10.0.0.2", extra={"mac_address": "02:42:ac:11:65:43"})
    assert s.to_compose()["networks"] == {
        "back": None,
        "front": {"aliases": ["web"], "ipv4_address": "10.0.0.2",
                  "mac_address": "02:42:ac:11:65:43"}}


def test_secret_and_config_refs() -> None:
    from .helpers import project

    p = project("""
        services:
          s:
            image: x
            secrets: [token, {source: key, target: /k, uid: "1", gid: 2, mode: 0440}]
            configs: [{source: conf, mode: "0644"}]
        secrets: {token: {file: ./t.txt}, key: {environment: KEY}}
        configs: {conf: {content: "x=1"}}
    """)
    s = p.services["s"]
    assert s.secrets == (ServiceFileRef("token"),
                         ServiceFileRef("key", target="/k", uid="1", gid="2", mode=0o440))
    assert s.configs == (ServiceFileRef("conf", mode=0o644),)
    assert s.to_compose()["secrets"][1] == {"gid": "2", "mode": 288, "source": "key",
                                            "target": "/k", "uid": "1"}


# -- build, deploy, resources ---------------------------------------------------------------------

def test_build_string_and_long() -> None:
    assert service("build: ./app").build == Build(context=f"{WORKDIR}/app",
                                                  dockerfile="Dockerfile")
    b = service("""
        build:
          context: .
          dockerfile: docker/Dockerfile.dev
          args: [VERSION=1, DEBUG]
          additional_contexts: {lib: ../lib, img: "docker-image://alpine"}
          cache_from: [a]
          ssh: [default]
    """).build
    assert b == Build(context=WORKDIR, dockerfile="docker/Dockerfile.dev",
                      args={"DEBUG": None, "VERSION": "1"}, cache_from=("a",),
                      additional_contexts={"img": "docker-image://alpine", "lib": "/lib"},
                      extra={"ssh": ["default"]})


def test_build_url_context_and_inline_dockerfile() -> None:
    b = service("build: {context: 'https://github.com/a/b.git#main', dockerfile_inline: FROM x}"
                ).build
    assert b is not None and b.context == "https://github.com/a/b.git#main"
    assert b.dockerfile is None and b.dockerfile_inline == "FROM x"


def test_deploy() -> None:
    s = service("""
        image: x
        deploy:
          replicas: 3
          labels: [a=b]
          resources:
            limits: {cpus: '0.5', memory: 512M, pids: 100}
            reservations:
              cpus: 2
              memory: 1gb
              devices: [{capabilities: [gpu], count: 1}]
          restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 120s}
          update_config: {parallelism: 2, order: start-first, monitor: 60s}
          placement: {constraints: [node.role==worker], preferences: [{spread: zone}]}
          endpoint_mode: dnsrr
    """)
    d = s.deploy
    assert d is not None
    assert d.replicas == 3 and d.labels == {"a": "b"}
    assert d.resources.limits.cpus == 0.5 and d.resources.limits.memory == ByteSize(512 << 20)
    assert d.resources.reservations.memory == ByteSize(1 << 30)
    assert d.placement_preferences == ("zone",)
    got = s.to_compose()["deploy"]
    assert got["resources"] == {
        "limits": {"cpus": 0.5, "memory": 536870912, "pids": 100},
        "reservations": {"cpus": 2, "devices": [{"capabilities": ["gpu"], "count": 1}],
                         "memory": 1073741824}}
    assert got["restart_policy"] == {"condition": "on-failure", "delay": "5s",
                                     "max_attempts": 3, "window": "2m0s"}
    assert got["update_config"] == {"monitor": "1m0s", "order": "start-first",
                                    "parallelism": 2}
    assert got["placement"] == {"constraints": ["node.role==worker"],
                                "preferences": [{"spread": "zone"}]}


@pytest.mark.parametrize("text, message", [
    ("deploy: {restart_policy: {condition: sometimes}}", "unknown restart condition"),
    ("deploy: {mode: everywhere}", "unknown deploy mode"),
    ("deploy: {resources: {limits: {memory: lots}}}", "invalid byte size"),
    ("deploy: {resources: {limits: {cpus: half}}}", "expected a number"),
    ("deploy: {replicas: -1}", "at least 0"),
    ("restart: sometimes", "unknown restart policy"),
    ("mem_limit: 1x", "invalid byte size"),
    ("stop_grace_period: 1 minute", "invalid duration"),
])
def test_value_errors(text: str, message: str) -> None:
    (err,) = service_errors("image: x\n" + text)
    assert message in err.message, err.message
    assert err.location is not None and err.location.line >= 4


def test_errors_in_several_keys_are_all_reported_sorted() -> None:
    errs = service_errors("""
        image: x
        restart: sometimes
        mem_limit: 1x
        ports: ["99999"]
    """)
    assert [where(e) for e in errs] == ["5:5", "6:5", "7:13"]


def test_scalar_resources_and_limits() -> None:
    s = service("""
        image: x
        mem_limit: 1g
        mem_reservation: 512m
        memswap_limit: -1
        shm_size: 64M
        cpus: 1.5
        cpu_shares: 512
        pids_limit: 100
        stop_grace_period: 1m
        ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}
    """)
    assert s.mem_limit == ByteSize(1 << 30) and s.memswap_limit == ByteSize(-1)
    assert s.stop_grace_period == Duration(60 * 10**9)
    out = s.to_compose()
    assert out["mem_limit"] == 1073741824 and out["shm_size"] == 67108864
    assert out["stop_grace_period"] == "1m0s" and out["cpus"] == 1.5
    assert out["ulimits"] == {"nofile": {"hard": 40000, "soft": 20000}, "nproc": 65535}


def test_extra_hosts_forms_render_as_compose_go() -> None:
    s = service("""
        image: x
        extra_hosts: ["somehost:162.242.195.82", "v6=::1", "multi=1.1.1.1,2.2.2.2", "b=[::2]"]
    """)
    assert s.extra_hosts == ("b=::2", "multi=1.1.1.1", "multi=2.2.2.2",
                             "somehost=162.242.195.82", "v6=::1")
    assert service("image: x\nextra_hosts: {a: 10.0.0.1, b: [1.1.1.1]}").extra_hosts == (
        "a=10.0.0.1", "b=1.1.1.1")
    (err,) = service_errors("image: x\nextra_hosts: [nohost]")
    assert "no IP address" in err.message


def test_pull_policy_and_devices_and_unknown_keys() -> None:
    s = service("""
        image: x
        pull_policy: if_not_present
        devices: ["/dev/a:/dev/a", {source: /dev/b, target: /dev/c, permissions: r}]
        storage_opt: {size: 20G}
        x-custom: {any: thing}
    """)
    assert s.pull_policy == "missing"
    assert s.devices == ("/dev/a:/dev/a", "/dev/b:/dev/c:r")
    assert s.other == {"storage_opt": {"size": "20G"}}
    assert s.extensions == {"x-custom": {"any": "thing"}}
    out = s.to_compose()
    assert out["storage_opt"] == {"size": "20G"} and out["x-custom"] == {"any": "thing"}


def test_develop_watch() -> None:
    s = service("""
        build: .
        develop:
          watch:
            - {path: ./src, action: sync, target: /app, ignore: [node_modules/]}
            - {path: [package.json, lock.json], action: rebuild}
            - {path: ./cfg, action: sync+exec, target: /cfg, exec: {command: kill -HUP 1}}
    """)
    assert s.develop is not None
    paths = [(r.path, r.action) for r in s.develop.watch]
    assert paths == [(f"{WORKDIR}/src", "sync"), (f"{WORKDIR}/package.json", "rebuild"),
                     (f"{WORKDIR}/lock.json", "rebuild"), (f"{WORKDIR}/cfg", "sync+exec")]
    assert s.develop.watch[3].exec_command == ("kill", "-HUP", "1")
    assert s.to_compose()["develop"]["watch"][0] == {
        "action": "sync", "ignore": ["node_modules/"], "path": f"{WORKDIR}/src",
        "target": "/app"}


def test_deploy_mode_default_is_left_out() -> None:
    assert rendered("image: x\ndeploy: {replicas: 2}")["deploy"] == {"replicas": 2}
    assert rendered("image: x\ndeploy: {mode: global}")["deploy"] == {"mode": "global"}


def test_env_file_values_without_environment_key_render_sorted() -> None:
    from dataclasses import replace

    s = service("image: x\nenv_file: a.env\nuser: me")
    s = replace(s, env_files=(replace(s.env_files[0], values={"B": "2", "A": None}),))
    out = s.to_compose()
    assert list(out) == sorted(out)
    assert list(out["environment"].items()) == [("A", None), ("B", "2")]


def test_scale_and_replicas_must_agree() -> None:
    assert service("image: x\nscale: 2\ndeploy: {replicas: 2}").scale == 2
    (err,) = service_errors("image: x\nscale: 2\ndeploy: {replicas: 3}")
    assert "differs from deploy.replicas" in err.message and where(err) == "4:5"
