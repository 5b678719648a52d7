"""Objects checked as kube-apiserver checks them (issue #12, items 4, 6, 7, 9, 10): field
types against the OpenAPI schema, int32 bounds, unknown fields as fieldValidation asks,
size limits, Secrets' stringData, and warnings for hostPaths that expose the machine."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kompy.client import KubeClient
from kompy.client.errors import ApiError, Invalid
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store

TOKEN = "test-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    (tmp_path / "state").mkdir()
    srv = ApiServer(Store(tmp_path / "state" / "store.db"), TOKEN).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ApiServer) -> KubeClient:
    return KubeClient.for_server(server.url, TOKEN)


def post(server: ApiServer, path: str, body: Any, query: str = "") -> requests.Response:
    return requests.post(f"{server.url}{path}{query}", data=json.dumps(body),
                         headers={"Authorization": f"Bearer {TOKEN}",
                                  "Content-Type": "application/json"}, timeout=10)


def configmap(name: str = "x", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}},
                     **spec}}


CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def test_a_configmap_whose_data_is_not_a_map_of_strings_is_422(server: ApiServer) -> None:
    """Such a ConfigMap used to be stored, then failed the kubelet on every sync."""
    answer = post(server, CMS, configmap(data="just a string"))
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        'ConfigMap "x" is invalid: data: Invalid value: "string": data in body must be of '
        'type object: "string"')
    answer = post(server, CMS, configmap(data={"key": 1, "other": True}))
    assert answer.status_code == 422
    status = answer.json()
    assert status["reason"] == "Invalid" and status["message"] == (
        'ConfigMap "x" is invalid: [data.key: Invalid value: "integer": data.key in body must '
        'be of type string: "integer", data.other: Invalid value: "boolean": data.other in '
        'body must be of type string: "boolean"]')
    assert [c["field"] for c in status["details"]["causes"]] == ["data.key", "data.other"]
    assert status["details"]["kind"] == "ConfigMap" and status["details"]["name"] == "x"


def test_replicas_out_of_int32_is_422_with_upstreams_message(server: ApiServer,
                                                             client: KubeClient) -> None:
    """replicas: 1e12 used to be accepted, and 2,281 pods were made in 10 s."""
    raw = json.dumps(deployment()).replace('"selector"', '"replicas": 1e12, "selector"')
    answer = requests.post(f"{server.url}{DEPLOYS}", data=raw, timeout=10, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: 1000000000000: '
        "spec.replicas in body should be less than or equal to 2147483647")
    client.create(deployment())
    for change in ({"spec": {"replicas": 2**31}}, {"spec": {"replicas": "3"}}):
        with pytest.raises(Invalid, match="spec.replicas"):
            client.patch("deployments", "web", "default", change)
    # The scale subresource goes through the same check.
    with pytest.raises(Invalid, match="less than or equal to 2147483647"):
        client.request("PUT", f"{DEPLOYS}/web/scale", body={
            "apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
            "spec": {"replicas": 10**12}})
    assert client.get("deployments", "web")["spec"]["replicas"] == 1


def test_integral_floats_are_integers(client: KubeClient) -> None:
    created = client.create(deployment(replicas=3.0))
    assert created["spec"]["replicas"] == 3 and isinstance(created["spec"]["replicas"], int)


FORMAT_WRONG = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


@pytest.mark.parametrize(("limits", "why"), [
    ({"cpu": "lots"}, FORMAT_WRONG), ({"memory": "1 Gi"}, FORMAT_WRONG),
    ({"memory": "1K"}, "unable to parse quantity's suffix"),
])
def test_a_malformed_quantity_is_kube_apiservers_decoding_error(
        server: ApiServer, limits: dict[str, str], why: str) -> None:
    """Never stored (a kubelet parsing it later failed the pod's every sync): a 400, as
    kube-apiserver's decoder answers before any check, in its words (kubectl shows them)."""
    broken = deployment()
    broken["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": limits}
    answer = post(server, DEPLOYS, broken)
    assert answer.status_code == 400
    assert answer.json()["reason"] == "BadRequest"
    assert answer.json()["message"] == (
        f'Deployment in version "v1" cannot be handled as a Deployment: {why}')


def test_quantities_in_every_form_upstream_reads_are_stored(client: KubeClient) -> None:
    good = deployment()
    good["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": "1e3", "memory": "1.5Gi"}, "requests": {"cpu": 0.5, "memory": 1024}}
    assert client.create(good)["metadata"]["uid"]
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
             "spec": {"hard": {"pods": "ten"}}}
    with pytest.raises(ApiError, match="cannot be handled as a ResourceQuota"):
        client.create(quota)


def test_every_field_type_problem_is_reported_at_once(server: ApiServer) -> None:
    broken = deployment()
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["image"] = 5
    container["ports"] = [{"containerPort": "80"}]
    broken["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "30"
    answer = post(server, DEPLOYS, broken)
    assert answer.status_code == 422
    fields = [c["field"] for c in answer.json()["details"]["causes"]]
    assert fields == ["spec.template.spec.containers[0].image",
                      "spec.template.spec.containers[0].ports[0].containerPort",
                      "spec.template.spec.terminationGracePeriodSeconds"]


def test_unknown_fields_as_field_validation_asks(server: ApiServer, client: KubeClient) -> None:
    typo = deployment()
    typo["spec"]["replcias"] = 3
    strict = post(server, DEPLOYS, typo, "?fieldValidation=Strict")
    assert strict.status_code == 400
    assert strict.json()["message"] == ('Deployment in version "v1" cannot be handled as a '
                                        'Deployment: strict decoding error: unknown field '
                                        '"spec.replcias"')
    warned = post(server, DEPLOYS, typo)                  # Warn: kube-apiserver's default
    assert warned.status_code == 201
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec.replcias\\""'
    assert "replcias" not in warned.json()["spec"]          # dropped, as the decoder does
    assert "replcias" not in client.get("deployments", "web")["spec"]
    ignored = post(server, CMS, configmap("i", extra=1), "?fieldValidation=Ignore")
    assert ignored.status_code == 201 and "Warning" not in ignored.headers
    assert post(server, CMS, configmap("b"), "?fieldValidation=Loose").status_code == 400


def test_a_50_mb_configmap_is_refused(server: ApiServer) -> None:
    """Over HTTP the body limit refuses it before it is parsed..."""
    answer = post(server, CMS, configmap(data={"k": "x" * (50 * 1024 * 1024)}))
    assert answer.status_code == 413
    assert answer.json()["reason"] == "RequestEntityTooLarge"


def test_configmap_and_secret_data_are_limited_to_1_mib(server: ApiServer) -> None:
    """... and in-process (no body limit), admission does, with upstream's messages."""
    api = server.api
    from kompy.client import resources
    from kompy.cluster.apiserver.handlers import Route
    cms = Route(resources.lookup("configmaps"), "default", None, None)
    secrets = Route(resources.lookup("secrets"), "default", None, None)
    big = "x" * (1024 * 1024 + 1)
    with pytest.raises(Invalid) as info:
        api.create(cms, configmap(data={"k": big}))
    assert info.value.message == ('ConfigMap "x" is invalid: []: Too long: must have at most '
                                  "1048576 bytes")
    with pytest.raises(Invalid) as info:
        api.create(secrets, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                             "stringData": {"k": big}})
    assert info.value.message == ('Secret "s" is invalid: data: Too long: must have at most '
                                  "1048576 bytes")
    assert big not in info.value.message
    with pytest.raises(ApiError) as too_big:           # any object: etcd's request limit
        api.create(cms, configmap(metadata={"name": "m", "labels": {
            f"k{i}": "v" * 60 for i in range(30_000)}}))
    assert too_big.value.status == 413
    assert too_big.value.message == "etcdserver: request is too large"


def test_config_keys_are_checked(server: ApiServer) -> None:
    answer = post(server, CMS, configmap(data={"bad key": "v"}, binaryData={"k": "dg=="}))
    assert answer.status_code == 422
    assert answer.json()["message"].startswith(
        'ConfigMap "x" is invalid: data[bad key]: Invalid value: "bad key": a valid config '
        "key must consist of alphanumeric characters")
    dup = post(server, CMS, configmap(data={"k": "v"}, binaryData={"k": "dg=="}))
    assert dup.status_code == 422 and "duplicate of key present in data" in \
        dup.json()["message"]


def test_string_data_is_merged_into_data_and_dropped(client: KubeClient,
                                                     server: ApiServer) -> None:
    created = client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                             "data": {"a": base64.b64encode(b"from data").decode(),
                                      "b": base64.b64encode(b"replaced").decode()},
                             "stringData": {"b": "pass word", "c": "ünïcode"}})
    assert "stringData" not in created and created["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in created["data"].items()} == {
        "a": "from data", "b": "pass word", "c": "ünïcode"}
    stored = Path(server.api.store.path).read_bytes() + Path(
        server.api.store.path + "-wal").read_bytes()
    assert b"pass word" not in stored          # the plain text is in no row of the store


def test_secret_data_must_be_base64(server: ApiServer) -> None:
    answer = post(server, "/api/v1/namespaces/default/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"k": "not base64!"}})
    assert answer.status_code == 422 and "data.k" in answer.json()["message"]
    assert "not base64" not in answer.text                 # never the value


def pod_with_host_path(path: str, name: str = "p") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}],
                     "volumes": [{"name": "v", "hostPath": {"path": path}}]}}


def test_host_paths_that_expose_the_machine_are_warned_about(server: ApiServer) -> None:
    pods = "/api/v1/namespaces/default/pods"
    state = str(Path(server.api.store.path).parent)
    # (/var/run is a symbolic link to /run on Debian: the real folder counts.)
    for i, path in enumerate(["/", "/var/run/docker.sock", "/run", "/run/", state,
                              str(Path(state).parent)]):
        answer = post(server, pods, pod_with_host_path(path, f"p{i}"))
        assert answer.status_code == 201
        assert answer.headers.get("Warning", "").startswith(
            '299 - "spec.volumes[0].hostPath: '), path
    for i, path in enumerate(["/srv/data", "/var/lib/app", "/etc/app"]):
        answer = post(server, pods, pod_with_host_path(path, f"q{i}"))
        assert answer.status_code == 201 and "Warning" not in answer.headers, path
    deploy = deployment("d")
    deploy["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "hostPath": {"path": "/"}}]
    answer = post(server, DEPLOYS, deploy)
    assert "spec.template.spec.volumes[0].hostPath: '/' gives the pod the host's whole " \
           "file system" in answer.headers["Warning"]
