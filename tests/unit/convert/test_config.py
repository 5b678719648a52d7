"""ConfigMaps and Secrets from env_file, configs and secrets (kompy/convert/config.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kompy.convert.config import looks_secret, plan_config
from kompy.convert.context import ConvertContext
from kompy.convert.ingress import build_ingresses
from kompy.convert.netpolicy import build_network_policies
from kompy.convert.options import ConvertOptions
from kompy.convert.services import build_services
from kompy.convert.validate import resolve_version, validate_object
from kompy.errors import ConvertError
from kompy.model import (
    ConfigDef,
    EnvFile,
    PortMapping,
    Project,
    SecretDef,
    Service,
    ServiceFileRef,
)

SECRET_VALUE = "s3cr3t-Value-that-must-not-leak"


def _ctx(*services: Service, secrets: dict[str, SecretDef] | None = None,
         configs: dict[str, ConfigDef] | None = None, **options: Any) -> ConvertContext:
    options.setdefault("with_kompose_annotation", False)
    project = Project(name="shop", working_dir="/p",
                      services={service.name: service for service in services},
                      secrets=secrets or {}, configs=configs or {})
    return ConvertContext(project, ConvertOptions(**options))


def _valid(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for obj in objects:
        validate_object(obj, resolve_version(None))
    return objects


def _by_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


@pytest.mark.parametrize(("name", "secret"), [
    ("DB_PASSWORD", True), ("API_KEY", True),
    # Where a secret is, not the secret (the official images' *_FILE convention), and switches.
    ("POSTGRES_PASSWORD_FILE", False), ("SSL_KEY_PATH", False), ("ALLOW_EMPTY_PASSWORD", False),
    ("MYSQL_ALLOW_EMPTY_PASSWORD", False), ("ENABLE_AUTH", False),
    ("apiKey", True), ("GITHUB_TOKEN", True), ("AWS_SECRET_ACCESS_KEY", True), ("DB_PASS", True),
    ("SENTRY_DSN", True), ("MONKEY", False), ("PASSAGE", False), ("DEBUG", False),
    ("KEYCLOAK_URL", False), ("LOG_LEVEL", False)])
def test_looks_secret(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_env_file_becomes_configmap_and_secret_with_env_from() -> None:
    api = Service("api", image="x", env_files=(
        EnvFile("/p/api.env", values={"LOG_LEVEL": "debug", "DB_PASSWORD": SECRET_VALUE}),
        EnvFile("/p/envs/common.env", values={"REGION": "eu"}),
        EnvFile("/p/missing.env", required=False, values=None)))
    ctx = _ctx(api)
    pod = plan_config(ctx, api)
    objects = _by_name(_valid(pod.objects))
    assert sorted(objects) == ["ConfigMap/api-env", "ConfigMap/envs-common-env",
                               "Secret/api-env-secret"]
    assert objects["ConfigMap/api-env"]["data"] == {"LOG_LEVEL": "debug"}
    secret = objects["Secret/api-env-secret"]
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["DB_PASSWORD"]).decode() == SECRET_VALUE
    assert pod.env_from == [{"configMapRef": {"name": "api-env"}},
                            {"secretRef": {"name": "api-env-secret"}},
                            {"configMapRef": {"name": "envs-common-env"}}]
    statuses = [(r.key, r.status) for r in ctx.report]
    assert statuses == [("services.api.env_file[0]", "approximated"),
                        ("services.api.env_file[1]", "mapped"),
                        ("services.api.env_file[2]", "approximated")]


def test_configs_become_configmaps_mounted_with_subpath() -> None:
    configs = {
        "nginx_conf": ConfigDef("nginx_conf", file="/p/nginx.conf", content=b"server {}\n"),
        "motd": ConfigDef("motd", content_inline="hello"),
        "blob": ConfigDef("blob", content=b"\xff\x00"),
        "shared": ConfigDef("shared", external=True, external_name="site-wide"),
    }
    web = Service("web", image="nginx", configs=(
        ServiceFileRef("nginx_conf", target="/etc/nginx/nginx.conf", mode=0o440),
        ServiceFileRef("motd"), ServiceFileRef("blob", target="data/blob"),
        ServiceFileRef("shared", target="/etc/shared")))
    ctx = _ctx(web, configs=configs)
    pod = plan_config(ctx, web)
    objects = _by_name(_valid(pod.objects))
    assert sorted(objects) == ["ConfigMap/blob", "ConfigMap/motd", "ConfigMap/nginx-conf"]
    assert objects["ConfigMap/nginx-conf"]["data"] == {"nginx_conf": "server {}\n"}
    assert objects["ConfigMap/blob"]["binaryData"] == {"blob": "/wA="}
    assert [(m["mountPath"], m["subPath"]) for m in pod.mounts] == [
        ("/etc/nginx/nginx.conf", "nginx_conf"), ("/motd", "motd"), ("/data/blob", "blob"),
        ("/etc/shared", "shared")]
    volumes = {v["name"]: v for v in pod.volumes}
    assert volumes["config-nginx-conf"]["configMap"] == {
        "name": "nginx-conf", "items": [{"key": "nginx_conf", "path": "nginx_conf",
                                         "mode": 0o440}]}
    assert volumes["config-site-wide"]["configMap"]["name"] == "site-wide"


def test_shared_config_and_secret_are_emitted_once() -> None:
    secrets = {"token": SecretDef("token", file="/p/token", content=SECRET_VALUE.encode())}
    a = Service("a", image="x", secrets=(ServiceFileRef("token"),))
    b = Service("b", image="x", secrets=(ServiceFileRef("token"),))
    ctx = _ctx(a, b, secrets=secrets)
    assert len(plan_config(ctx, a).objects) == 1
    pod_b = plan_config(ctx, b)
    assert pod_b.objects == [] and pod_b.mounts  # b still mounts it


def test_secrets_default_projected_into_run_secrets() -> None:
    secrets = {
        "db_password": SecretDef("db_password", environment="DB_PW", content=b"pw"),
        "api_token": SecretDef("api_token", file="/p/t", content=b"tok"),
        "tls_key": SecretDef("tls_key", file="/p/k", content=b"key"),
        "vault": SecretDef("vault", external=True),
    }
    api = Service("api", image="x", secrets=(
        ServiceFileRef("db_password"), ServiceFileRef("api_token", target="token", mode=0o400),
        ServiceFileRef("tls_key", target="/etc/ssl/private/key.pem"), ServiceFileRef("vault")))
    ctx = _ctx(api, secrets=secrets)
    pod = plan_config(ctx, api)
    objects = _by_name(_valid(pod.objects))
    assert sorted(objects) == ["Secret/api-token", "Secret/db-password", "Secret/tls-key"]
    assert objects["Secret/db-password"]["data"] == {"db_password": "cHc="}
    projected = next(v for v in pod.volumes if v["name"] == "secrets")["projected"]["sources"]
    assert projected == [
        {"secret": {"name": "db-password", "items": [{"key": "db_password",
                                                      "path": "db_password"}]}},
        {"secret": {"name": "api-token", "items": [{"key": "api_token", "path": "token",
                                                    "mode": 0o400}]}},
        {"secret": {"name": "vault", "items": [{"key": "vault", "path": "vault"}]}}]
    assert [(m["name"], m["mountPath"], m.get("subPath")) for m in pod.mounts] == [
        ("secret-tls-key", "/etc/ssl/private/key.pem", "tls_key"),
        ("secrets", "/run/secrets", None)]


def test_secrets_as_files_mounts_each_secret_with_subpath() -> None:
    secrets = {"db_password": SecretDef("db_password", content=b"pw", file="/p/pw")}
    api = Service("api", image="x", secrets=(ServiceFileRef("db_password"),))
    pod = plan_config(_ctx(api, secrets=secrets, secrets_as_files=True), api)
    assert pod.mounts == [{"name": "secret-db-password", "mountPath": "/run/secrets/db_password",
                           "subPath": "db_password", "readOnly": True}]


def test_uid_gid_warn() -> None:
    secrets = {"s": SecretDef("s", content=b"x", file="/p/s")}
    api = Service("api", image="x", secrets=(ServiceFileRef("s", uid="1000", gid="1000"),))
    ctx = _ctx(api, secrets=secrets)
    plan_config(ctx, api)
    assert "uid and gid" in ctx.diagnostics[0].message
    assert ctx.report[0].status == "approximated"


def test_undefined_and_empty_secret_are_errors_without_values() -> None:
    api = Service("api", image="x", secrets=(ServiceFileRef("nope"),))
    with pytest.raises(ConvertError, match="'nope' is not defined"):
        plan_config(_ctx(api), api)
    secrets = {"s": SecretDef("s", environment="S_VALUE")}
    api = Service("api", image="x", secrets=(ServiceFileRef("s"),))
    with pytest.raises(ConvertError, match="environment variable S_VALUE"):
        plan_config(_ctx(api, secrets=secrets), api)


def test_secret_values_appear_only_in_secret_data() -> None:
    """Everything kompy produces, except Secret data, is scanned for a known secret value."""
    secrets = {"pw": SecretDef("pw", file="/p/pw", content=SECRET_VALUE.encode()),
               "pw_env": SecretDef("pw_env", environment="PW", content=SECRET_VALUE.encode())}
    api = Service("api", image="x", ports=(PortMapping(80, published="8080"),),
                  labels={"kompose.service.expose": "api.example"},
                  env_files=(EnvFile("/p/.env", values={"ADMIN_PASSWORD": SECRET_VALUE,
                                                        "APP_SECRET": SECRET_VALUE,
                                                        "MODE": "prod"}),),
                  secrets=(ServiceFileRef("pw", uid="1"), ServiceFileRef("pw_env", target="x"),
                           ServiceFileRef("pw", target="/etc/pw")))
    worker = Service("worker", image="x", secrets=(ServiceFileRef("pw"),),
                     env_files=(EnvFile("/p/worker.env", values={"ADMIN_PASSWORD": SECRET_VALUE}),))
    ctx = _ctx(api, worker, secrets=secrets, network_policies=True,
               with_kompose_annotation=True)
    objects: list[dict[str, Any]] = []
    for service in (api, worker):
        pod = plan_config(ctx, service)
        objects += pod.objects
        objects += [{"pod": [pod.env_from, pod.volumes, pod.mounts]}]
        objects += build_services(ctx, service) + build_ingresses(ctx, service)
    objects += build_network_policies(ctx)
    _valid([o for o in objects if "kind" in o])
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    secret_data = 0
    for obj in objects:
        if obj.get("kind") == "Secret":
            secret_data += list(obj["data"].values()).count(encoded)
            obj = {**obj, "data": {}}
        text = json.dumps(obj)
        assert SECRET_VALUE not in text and encoded not in text, obj
    # pw, pw_env, ADMIN_PASSWORD and APP_SECRET of api's .env, ADMIN_PASSWORD of worker's
    assert secret_data == 5
    rest = json.dumps([d.format() for d in ctx.diagnostics] +
                      [r.to_dict() for r in ctx.report], default=str)
    assert SECRET_VALUE not in rest and encoded not in rest
    assert ctx.diagnostics, "the uid warning should have been produced"


def test_secret_values_stay_in_secrets_through_the_whole_conversion() -> None:
    """The same scan over convert()'s output, warnings, report and chart."""
    from kompy.convert import Conversion, convert
    from kompy.convert.chart import render_chart
    from kompy.convert.output import render_stream
    from kompy.convert.report import report_json

    secrets = {"pw": SecretDef("pw", file="/p/pw", content=SECRET_VALUE.encode())}
    api = Service("api", image="x", ports=(PortMapping(80, published="8080"),),
                  env_files=(EnvFile("/p/.env", values={"ADMIN_TOKEN": SECRET_VALUE}),),
                  secrets=(ServiceFileRef("pw", uid="0", target="/etc/pw", mode=0o400),),
                  labels={"kompose.hpa.cpu": "50", "kompose.service.expose": "x.example"})
    project = Project(name="shop", working_dir="/p", services={"api": api}, secrets=secrets)
    options = ConvertOptions(network_policies=True, namespace="prod")
    conversion = convert(project, options)
    secret_objects = [o for o in conversion.objects if o["kind"] == "Secret"]
    assert len(secret_objects) == 2
    others = Conversion(objects=[o for o in conversion.objects if o["kind"] != "Secret"],
                        diagnostics=conversion.diagnostics, report=conversion.report)
    chart = render_chart(others, project, options)
    text = (render_stream(others) + report_json(project, conversion) + json.dumps(chart)
            + "\n".join(d.format() for d in conversion.diagnostics))
    assert conversion.diagnostics
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    assert SECRET_VALUE not in text and encoded not in text


@pytest.mark.parametrize(("path", "name"), [
    ("/p/hadoop-hive-namenode.env", "hadoop-hive-namenode-env"),  # Kompose's own example
    ("/p/env1/a.env", "env1-a-env"), ("/p/.env", "env"), ("/p/src/app/.env", "src-app--env"),
    ("/p/Config_Dev.ENV", "config-dev-env"), ("/common.env", "common-env")])
def test_env_file_configmaps_are_named_after_the_file_as_kompose(path: str, name: str) -> None:
    api = Service("api", image="x", env_files=(EnvFile(path, values={"A": "1"}),))
    assert plan_config(_ctx(api), api).env_from == [{"configMapRef": {"name": name}}]


def test_services_sharing_an_env_file_share_its_configmap() -> None:
    shared = EnvFile("/p/hadoop-hive-namenode.env", values={"A": "1", "DB_PASSWORD": "pw"})
    one, two = (Service(n, image="x", env_files=(shared,)) for n in ("namenode", "other"))
    ctx = _ctx(one, two)
    first, second = plan_config(ctx, one), plan_config(ctx, two)
    assert sorted(_by_name(first.objects)) == ["ConfigMap/hadoop-hive-namenode-env",
                                               "Secret/hadoop-hive-namenode-env-secret"]
    assert second.objects == [] and second.env_from == first.env_from


def test_name_clash_between_config_and_env_file_is_an_error() -> None:
    configs = {"api-env": ConfigDef("api-env", content=b"x")}
    api = Service("api", image="x", configs=(ServiceFileRef("api-env"),),
                  env_files=(EnvFile("/p/api.env", values={"A": "1"}),))
    with pytest.raises(ConvertError, match="would both be ConfigMap/api-env"):
        plan_config(_ctx(api, configs=configs), api)


@pytest.mark.parametrize(("mount_path", "volume", "covers"), [
    ("/run/secrets", {"projected": {}}, True), ("/var/run/secrets", {"secret": {}}, True),
    ("/run", {"emptyDir": {}, "readOnly": True}, True), ("/var", {"configMap": {}}, True),
    ("/run", {"emptyDir": {}}, False),       # writable: the mount point can be made in it
    ("/run/secrets/db_password", {"secret": {}}, False), ("/etc/api", {"secret": {}}, False)])
def test_a_read_only_volume_over_the_token_path_turns_the_token_off(
        mount_path: str, volume: dict[str, Any], covers: bool) -> None:
    from kompy.convert.pod import covers_token_path
    from kompy.convert.specs import ContainerSpec, PodSpec
    container = ContainerSpec(name="api", image="x")
    container.volume_mounts.append({"name": "v", "mountPath": mount_path,
                                    **({"readOnly": True} if volume.pop("readOnly", False)
                                       else {})})
    pod = PodSpec(labels={}, containers=[container], volumes=[{"name": "v", **volume}])
    assert covers_token_path(pod) is covers
