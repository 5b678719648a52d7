"""Secret-looking inline `environment` values go to a Secret (kompy/convert/envsecret.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kompy.convert import Conversion, convert
from kompy.convert.chart import render_chart
from kompy.convert.options import ConvertOptions
from kompy.convert.output import render_stream
from kompy.convert.report import report_json
from kompy.convert.validate import resolve_version, validate_object
from kompy.errors import ConvertError
from kompy.model import EnvFile, PortMapping, Project, SecretDef, Service, ServiceFileRef

from .helpers import container, find

PASSWORD = "pw-Only-In-The-Secret-7f3a"
API_KEY = "key-Only-In-The-Secret-91bc"


def _convert(*services: Service, secrets: dict[str, SecretDef] | None = None,
             **options: Any) -> tuple[Project, Conversion]:
    project = Project(name="shop", working_dir="/p", services={s.name: s for s in services},
                      secrets=secrets or {})
    return project, convert(project, ConvertOptions(**options))


def _secret_values(conversion: Conversion, name: str) -> dict[str, str]:
    secret = find(conversion, "Secret", name)
    assert secret["type"] == "Opaque"
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def _db(**kwargs: Any) -> Service:
    return Service("db", image="postgres:16", environment={
        "POSTGRES_USER": "app", "POSTGRES_PASSWORD": PASSWORD, "API_KEY": API_KEY,
        "UNSET_TOKEN": None, "LOG_LEVEL": "debug"}, **kwargs)


def test_password_moves_to_a_secret_referenced_in_place() -> None:
    _, conversion = _convert(_db())
    assert _secret_values(conversion, "db-env-secret") == {
        "POSTGRES_PASSWORD": PASSWORD, "API_KEY": API_KEY}
    ref = {"name": "db-env-secret"}
    env = container(find(conversion, "Deployment", "db"))["env"]
    # Same entries in the same order as without a Secret: only `value` became `valueFrom`.
    assert [e["name"] for e in env] == ["POSTGRES_USER", "POSTGRES_PASSWORD", "API_KEY",
                                        "LOG_LEVEL"]
    assert env == [
        {"name": "POSTGRES_USER", "value": "app"},
        {"name": "POSTGRES_PASSWORD",
         "valueFrom": {"secretKeyRef": {**ref, "key": "POSTGRES_PASSWORD"}}},
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {**ref, "key": "API_KEY"}}},
        {"name": "LOG_LEVEL", "value": "debug"}]


def test_no_secret_when_no_name_looks_secret() -> None:
    _, conversion = _convert(Service("web", image="x", environment={"MODE": "prod",
                                                                    "DB_PASSWORD": None}))
    assert [o["kind"] for o in conversion.objects] == ["Service", "Deployment"]
    assert container(find(conversion, "Deployment", "web"))["env"] == [
        {"name": "MODE", "value": "prod"}]


@pytest.mark.parametrize(("labels", "kind"), [
    ({}, "Deployment"),
    ({"kompose.controller.type": "statefulset"}, "StatefulSet"),
    ({"kompose.controller.type": "daemonset"}, "DaemonSet"),
    ({"kompose.controller.type": "job"}, "Job"),
    ({"kompose.cronjob.schedule": "*/5 * * * *"}, "CronJob"),
])
def test_every_workload_kind_refers_to_the_secret(labels: dict[str, str], kind: str) -> None:
    _, conversion = _convert(_db(labels=labels, expose=("5432",)))
    env = {e["name"]: e for e in container(find(conversion, kind, "db"))["env"]}
    assert env["POSTGRES_PASSWORD"] == {"name": "POSTGRES_PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "db-env-secret", "key": "POSTGRES_PASSWORD"}}}
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "debug"}
    assert _secret_values(conversion, "db-env-secret")["POSTGRES_PASSWORD"] == PASSWORD
    _assert_value_only_in_secret_data(*_convert(_db(labels=labels, expose=("5432",))))


def test_services_sharing_a_pod_each_get_their_own_secret() -> None:
    app = Service("app", image="x", environment={"APP_TOKEN": PASSWORD})
    proxy = Service("proxy", image="y", network_mode="service:app",
                    environment={"PROXY_TOKEN": API_KEY, "PORT": "80"})
    _, conversion = _convert(app, proxy)
    pod = find(conversion, "Deployment", "app")
    assert container(pod, 0)["env"] == [{"name": "APP_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": "app-env-secret", "key": "APP_TOKEN"}}}]
    assert container(pod, 1)["env"] == [
        {"name": "PROXY_TOKEN", "valueFrom": {
            "secretKeyRef": {"name": "proxy-env-secret", "key": "PROXY_TOKEN"}}},
        {"name": "PORT", "value": "80"}]
    assert _secret_values(conversion, "app-env-secret") == {"APP_TOKEN": PASSWORD}
    assert _secret_values(conversion, "proxy-env-secret") == {"PROXY_TOKEN": API_KEY}


def test_environment_still_wins_over_env_file() -> None:
    """env_file's variables come through envFrom; `environment` is `env`, which Kubernetes
    applies after envFrom, as Compose lets `environment` override `env_file`."""
    web = Service("web", image="x", environment={"DB_PASSWORD": PASSWORD},
                  env_files=(EnvFile("/p/web.env", values={"DB_PASSWORD": "from-file"}),))
    _, conversion = _convert(web)
    c = container(find(conversion, "Deployment", "web"))
    # web.env's Secret is web-env-secret (Kompose's name for the file), so the inline one
    # steps aside to web-env-secret-2.
    assert c["envFrom"] == [{"secretRef": {"name": "web-env-secret"}}]
    assert c["env"] == [{"name": "DB_PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "web-env-secret-2", "key": "DB_PASSWORD"}}}]
    assert _secret_values(conversion, "web-env-secret-2") == {"DB_PASSWORD": PASSWORD}
    assert _secret_values(conversion, "web-env-secret") == {"DB_PASSWORD": "from-file"}


def test_secret_name_avoids_env_file_and_top_level_secrets() -> None:
    # env_file "web.env" makes Secret web-env-secret; a top-level secret (used by another
    # service, converted later) is web-env-secret-2; an external one is web-env-secret-3.
    web = Service("web", image="x", environment={"DB_PASSWORD": PASSWORD},
                  env_files=(EnvFile("/p/web.env", values={"API_TOKEN": API_KEY}),))
    worker = Service("worker", image="x", secrets=(ServiceFileRef("web-env-secret-2"),
                                                   ServiceFileRef("ext")))
    secrets = {"web-env-secret-2": SecretDef("web-env-secret-2", content=b"file"),
               "ext": SecretDef("ext", external=True, external_name="web-env-secret-3")}
    project, conversion = _convert(web, worker, secrets=secrets)
    assert _secret_values(conversion, "web-env-secret") == {"API_TOKEN": API_KEY}
    assert _secret_values(conversion, "web-env-secret-2") == {"web-env-secret-2": "file"}
    assert _secret_values(conversion, "web-env-secret-4") == {"DB_PASSWORD": PASSWORD}
    assert container(find(conversion, "Deployment", "web"))["env"][0]["valueFrom"] == {
        "secretKeyRef": {"name": "web-env-secret-4", "key": "DB_PASSWORD"}}
    _assert_value_only_in_secret_data(project, conversion)


def test_secret_name_follows_the_service_name_override() -> None:
    web = Service("web", image="x", environment={"DB_PASSWORD": PASSWORD},
                  labels={"kompose.image-pull-secret": "front-env-secret"},
                  extensions={"x-kompy": {"name": "front"}})
    _, conversion = _convert(web)
    env = container(find(conversion, "Deployment", "front"))["env"]
    assert env[0]["valueFrom"]["secretKeyRef"]["name"] == "front-env-secret-2"


def test_names_that_are_not_secret_keys_get_distinct_keys() -> None:
    web = Service("web", image="x", environment={"db password": PASSWORD,
                                                 "db_password": API_KEY})
    _, conversion = _convert(web)
    env = container(find(conversion, "Deployment", "web"))["env"]
    keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in env}
    assert keys == {"db password": "db_password", "db_password": "db_password_2"}
    assert _secret_values(conversion, "web-env-secret") == {"db_password": PASSWORD,
                                                            "db_password_2": API_KEY}


def test_clash_with_another_object_of_the_same_name_is_an_error() -> None:
    # The names are planned to avoid everything kompy knows about; claim() still guards.
    from kompy.convert.context import ConvertContext
    from kompy.convert.envsecret import move_secret_env
    from kompy.convert.shared import claim
    from kompy.convert.specs import ContainerSpec

    web = Service("web", image="x", environment={"DB_PASSWORD": PASSWORD})
    ctx = ConvertContext(Project(name="shop", working_dir="/p", services={"web": web}),
                         ConvertOptions())
    claim(ctx, "Secret/web-env-secret", "something else")
    spec = ContainerSpec("web", "x", env=[{"name": "DB_PASSWORD", "value": PASSWORD}])
    with pytest.raises(ConvertError, match="would both be Secret/web-env-secret") as info:
        move_secret_env(ctx, web, spec)
    assert PASSWORD not in str(info.value)


def test_report_names_variables_and_secret_never_values() -> None:
    project, conversion = _convert(_db())
    records = {r.key: r for r in conversion.report}
    record = records["services.db.environment.POSTGRES_PASSWORD"]
    assert (record.status, record.target) == (
        "mapped", "Secret/db-env-secret key POSTGRES_PASSWORD via env secretKeyRef")
    assert records["services.db.environment.API_KEY"].target == (
        "Secret/db-env-secret key API_KEY via env secretKeyRef")
    assert "services.db.environment.LOG_LEVEL" not in records
    assert records["services.db.environment"].status == "mapped"
    document = json.loads(report_json(project, conversion))
    assert document["services"]["db"]["unaccounted"] == []


def _assert_value_only_in_secret_data(project: Project, conversion: Conversion) -> None:
    """Neither value (plain or base64) appears outside Secret data: not in the workload, not
    in metadata or annotations, the report, warnings or the chart."""
    for obj in conversion.objects:
        validate_object(obj, resolve_version(None))
    values = [PASSWORD, API_KEY]
    values += [base64.b64encode(v.encode()).decode() for v in values]
    scrubbed = [{**o, "data": {}} if o["kind"] == "Secret" else o for o in conversion.objects]
    others = Conversion(objects=scrubbed, diagnostics=conversion.diagnostics,
                        report=conversion.report)
    text = (render_stream(others) + report_json(project, conversion)
            + json.dumps(render_chart(others, project))
            + "\n".join(d.format() for d in conversion.diagnostics))
    for value in values:
        assert value not in text


def test_values_appear_only_in_secret_data_everywhere() -> None:
    db = _db(ports=(PortMapping(5432, published="5432"),),
             labels={"kompose.service.expose": "db.example", "kompose.hpa.cpu": "50"},
             env_files=(EnvFile("/p/db.env", values={"REPLICA_PASSWORD": PASSWORD}),))
    project, conversion = _convert(db, network_policies=True, namespace="prod",
                                   with_kompose_annotation=True)
    # Without the change the value was in the Deployment: make sure it is somewhere.
    assert any(PASSWORD in v for v in _secret_values(conversion, "db-env-secret").values())
    assert conversion.diagnostics, "the unset variable's warning should have been produced"
    _assert_value_only_in_secret_data(project, conversion)
