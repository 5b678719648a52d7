"""What stock kubectl reads besides objects: OpenAPI v2/v3, discovery, reviews, and the
request forms it sends (duplicate fields, protobuf review bodies, deletecollection).
The real API server over HTTP; stock kubectl itself runs in tests/integration/cluster/
test_kubectl_conformance.py."""

from __future__ import annotations

import json
from typing import Any

import requests

from kompy.cluster.apiserver import authz, kubeproto, protobuf
from kompy.cluster.apiserver.authn import UserInfo
from kompy.cluster.apiserver.openapi_proto import MESSAGES, PACKAGE
from kompy.cluster.apiserver.server import ApiServer

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def get(server: ApiServer, path: str, **headers: str) -> requests.Response:
    return requests.get(server.url + path, headers={**AUTH, **headers}, timeout=10,
                        allow_redirects=False)


def post(server: ApiServer, path: str, body: Any, content_type: str = "application/json",
         params: dict[str, str] | None = None) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(server.url + path, data=data, params=params, timeout=10,
                         headers={**AUTH, "Content-Type": content_type})


# -- OpenAPI -----------------------------------------------------------------------------------

def test_openapi_v2_json_has_every_served_kind_with_kubernetes_extensions(
        server: ApiServer) -> None:
    answer = get(server, "/openapi/v2", Accept="application/json")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    doc = answer.json()
    assert doc["swagger"] == "2.0"
    definitions = doc["definitions"]
    deployment = definitions["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert "enum" not in deployment["properties"]["kind"]          # the registry's own
    assert deployment["properties"]["spec"]["$ref"] == \
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    containers = definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert definitions["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"][
        "type"] == "integer"                                         # not ["integer", "null"]
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == \
        "int-or-string"
    for kind in ("Pod", "Service", "ConfigMap", "Namespace", "Node", "Event"):
        assert f"io.k8s.api.core.v1.{kind}" in definitions
    assert "io.k8s.api.batch.v1.CronJob" in definitions
    assert "io.k8s.api.networking.v1.Ingress" in definitions
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= {
        p["name"] for p in patch["parameters"]}
    assert "application/apply-patch+yaml" in patch["consumes"]


def test_openapi_v2_protobuf_decodes_as_gnostic_document(server: ApiServer) -> None:
    answer = get(server, "/openapi/v2", Accept=f"{V2_PROTOBUF},application/json")
    assert answer.status_code == 200
    # Go's mime parser refuses '@' in a Content-Type: kube-openapi answers with a dot.
    assert answer.headers["Content-Type"] == \
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    document = protobuf.message_classes(PACKAGE, MESSAGES)["Document"].FromString(
        answer.content)
    assert document.swagger == "2.0"
    schemas = {named.name: named.value for named in
               document.definitions.additional_properties}
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    extensions = {e.name: json.loads(e.value.yaml) for e in deployment.vendor_extension}
    assert extensions["x-kubernetes-group-version-kind"][0]["kind"] == "Deployment"
    spec = {p.name: p.value for p in deployment.properties.additional_properties}["spec"]
    assert spec._ref == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"


def test_openapi_v2_etag_and_content_negotiation(server: ApiServer) -> None:
    first = get(server, "/openapi/v2", Accept="application/json")
    etag = first.headers["Etag"]
    assert etag.startswith('"') and len(etag) == 130           # SHA-512, hex, quoted
    again = get(server, "/openapi/v2", Accept="application/json", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    refused = get(server, "/openapi/v2", Accept="text/html")
    assert refused.status_code == 406 and refused.json()["reason"] == "NotAcceptable"


def test_openapi_v3_index_and_group_documents_with_hashes(server: ApiServer) -> None:
    index = get(server, "/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/networking.k8s.io/v1",
            "apis/autoscaling/v2"} <= set(index)
    url = index["apis/apps/v1"]["serverRelativeURL"]
    answer = get(server, url)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "public, immutable"
    assert answer.headers["Etag"] == f'"{url.split("hash=")[1]}"'
    doc = answer.json()
    schemas = doc["components"]["schemas"]
    spec = schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert "io.k8s.api.core.v1.PodSpec" in schemas               # referred to, so carried
    assert "io.k8s.api.core.v1.Service" not in schemas           # another group version's
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" and p["in"] == "query"
               for p in patch["parameters"])
    stale = get(server, "/openapi/v3/apis/apps/v1?hash=0123")
    assert stale.status_code == 301 and stale.headers["Location"] == url
    assert get(server, "/openapi/v3/apis/nothing/v1").status_code == 404


# -- discovery ---------------------------------------------------------------------------------

def test_discovery_lists_categories_verbs_subresources_and_reviews(server: ApiServer) -> None:
    core = {r["name"]: r for r in get(server, "/api/v1").json()["resources"]}
    assert core["pods"]["categories"] == ["all"] and core["pods"]["shortNames"] == ["po"]
    assert "deletecollection" in core["pods"]["verbs"]
    assert "deletecollection" not in core["namespaces"]["verbs"]
    assert "categories" not in core["configmaps"]
    apps = {r["name"]: r for r in get(server, "/apis/apps/v1").json()["resources"]}
    assert apps["deployments/scale"]["group"] == "autoscaling"
    assert apps["deployments/scale"]["kind"] == "Scale"
    groups = {g["name"] for g in get(server, "/apis").json()["groups"]}
    assert {"authorization.k8s.io", "authentication.k8s.io"} <= groups
    reviews = get(server, "/apis/authorization.k8s.io/v1").json()["resources"]
    assert {r["name"] for r in reviews} == {"selfsubjectaccessreviews",
                                            "selfsubjectrulesreviews", "subjectaccessreviews",
                                            "localsubjectaccessreviews"}


def test_aggregated_discovery_when_asked_for(server: ApiServer) -> None:
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
              "application/json")
    answer = get(server, "/apis", Accept=accept)
    assert answer.headers["Content-Type"] == \
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    doc = answer.json()
    assert doc["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in doc["items"] if i["metadata"].get("name") == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"]
                       if r["resource"] == "deployments")
    assert deployments["categories"] == ["all"] and deployments["scope"] == "Namespaced"
    assert {s["subresource"] for s in deployments["subresources"]} == {"status", "scale"}
    core = get(server, "/api", Accept=accept).json()
    assert [i["metadata"] for i in core["items"]] == [{}]
    assert get(server, "/api", Accept="application/json").json()["kind"] == "APIVersions"


# -- reviews and the authorizer seam -----------------------------------------------------------

def test_self_subject_reviews(server: ApiServer) -> None:
    access = post(server, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "pods",
                                        "namespace": "default"}}})
    assert access.status_code == 201 and access.json()["status"]["allowed"] is True
    rules = post(server, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                 {"spec": {"namespace": "default"}}).json()["status"]
    assert rules["resourceRules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    me = post(server, "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}).json()
    assert me["status"]["userInfo"]["username"] == "kompy-admin"
    assert "system:masters" in me["status"]["userInfo"]["groups"]
    neither = post(server, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                   {"spec": {}})
    assert neither.status_code == 422


def test_reviews_sent_as_kubernetes_protobuf(server: ApiServer) -> None:
    """kubectl 1.33's typed clients send these as protobuf whatever the server says."""
    classes = protobuf.message_classes("test.k8s", kubeproto.ENVELOPE, syntax="proto2")
    review = classes["SelfSubjectAccessReview"]()
    review.spec.resourceAttributes.verb = "delete"
    review.spec.resourceAttributes.resource = "deployments"
    review.spec.resourceAttributes.group = "apps"
    envelope = classes["Unknown"]()
    envelope.typeMeta.apiVersion = "authorization.k8s.io/v1"
    envelope.typeMeta.kind = "SelfSubjectAccessReview"
    envelope.raw = review.SerializeToString()
    body = kubeproto.MAGIC + envelope.SerializeToString()
    answer = post(server, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body,
                  kubeproto.MEDIA_TYPE)
    assert answer.status_code == 201, answer.text
    assert answer.json()["spec"]["resourceAttributes"]["group"] == "apps"
    assert answer.json()["status"]["allowed"] is True
    other = post(server, "/api/v1/namespaces/default/configmaps", body.replace(
        b"SelfSubjectAccessReview", b"ConfigMap\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x00\x00\x00"), kubeproto.MEDIA_TYPE)
    assert other.status_code == 415


class DenyDeletes:
    def authorize(self, attributes: authz.Attributes) -> tuple[authz.Decision, str]:
        if attributes.verb == "delete":
            return authz.Decision.DENY, "deletes are off"
        return authz.Decision.ALLOW, ""

    def rules_for(self, user: UserInfo, namespace: str) -> authz.Rules:
        return authz.Rules([], [])


def test_an_authorizer_decides_requests_and_reviews(server: ApiServer) -> None:
    server.router.authorizer = DenyDeletes()
    created = post(server, "/api/v1/namespaces/default/configmaps",
                   {"metadata": {"name": "keep"}})
    assert created.status_code == 201
    refused = requests.delete(f"{server.url}/api/v1/namespaces/default/configmaps/keep",
                              headers=AUTH, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        'configmaps "keep" is forbidden: User "kompy-admin" cannot delete resource '
        '"configmaps" in API group "" in the namespace "default": deletes are off')
    can = post(server, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "spec": {"resourceAttributes": {"verb": "delete", "resource": "pods"}}}).json()
    assert can["status"] == {"allowed": False, "denied": True, "reason": "deletes are off"}


# -- request forms -----------------------------------------------------------------------------

def test_duplicate_fields_follow_field_validation(server: ApiServer) -> None:
    body = (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"d"},'
            b'"data":{"a":"1"},"data":{"a":"2"}}')
    strict = post(server, "/api/v1/namespaces/default/configmaps", body,
                  params={"fieldValidation": "Strict"})
    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name", duplicate field "data"')
    warned = post(server, "/api/v1/namespaces/default/configmaps", body)
    assert warned.status_code == 201
    assert 'duplicate field \\"data\\"' in warned.headers["Warning"]
    assert warned.json()["data"] == {"a": "2"}                   # the last one, as Go's


def test_delete_collection_by_label(server: ApiServer) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        post(server, "/api/v1/namespaces/default/configmaps",
             {"metadata": {"name": name, "labels": {"team": team}}})
    gone = requests.delete(f"{server.url}/api/v1/namespaces/default/configmaps",
                           params={"labelSelector": "team=x"}, headers=AUTH, timeout=10)
    assert gone.status_code == 200
    assert sorted(i["metadata"]["name"] for i in gone.json()["items"]) == ["a", "b"]
    left = get(server, "/api/v1/namespaces/default/configmaps").json()["items"]
    assert [i["metadata"]["name"] for i in left] == ["c"]


def _envelope(kind: str, api_version: str, raw: bytes) -> bytes:
    classes = protobuf.message_classes("test.env", kubeproto.ENVELOPE, syntax="proto2")
    envelope = classes["Unknown"]()
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = api_version, kind
    envelope.raw = raw
    return kubeproto.MAGIC + envelope.SerializeToString()


def test_kubectl_create_bodies_sent_as_protobuf(server: ApiServer) -> None:
    """kubectl 1.33 create deployment: gogo-protobuf writes every non-pointer field, zero
    or not; the server reads the message as Go's JSON would have it."""
    classes = protobuf.message_classes("test.kube", {**kubeproto.TABLE}, syntax="proto2")
    deployment = classes["Deployment"]()
    deployment.metadata.name = "made"
    deployment.metadata.namespace = ""                    # zero values: as if unset
    deployment.metadata.generation = 0
    deployment.spec.replicas = 0                          # a pointer: zero is a value
    deployment.spec.selector.matchLabels.add(key="app", value="made")
    template = deployment.spec.template
    template.metadata.labels.add(key="app", value="made")
    container = template.spec.containers.add(name="c", image="busybox:1")
    container.command.extend(["sleep", "1"])
    container.ports.add(containerPort=80, hostPort=0, protocol="")
    container.resources.limits.add(key="cpu", value=classes["Quantity"](string="500m"))
    raw = deployment.SerializeToString() + b"\x1a\x04\x08\x00\x10\x00"  # status: zeros
    answer = post(server, "/apis/apps/v1/namespaces/default/deployments",
                  _envelope("Deployment", "apps/v1", raw), kubeproto.MEDIA_TYPE)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["spec"]["replicas"] == 0 and "generation" in made["metadata"]
    made_container = made["spec"]["template"]["spec"]["containers"][0]
    assert made_container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert made_container["resources"] == {"limits": {"cpu": "500m"}}
    assert made_container["command"] == ["sleep", "1"]
    # A field the server does not read from protobuf (PodSpec.affinity, 18) holding a
    # value: refused, never dropped.
    pod_spec = classes["PodSpec"]()
    pod_spec.containers.add(name="c", image="busybox:1")
    affinity = b"\x92\x01\x05\x0a\x03abc"          # field 18, a message with a string
    pod_spec_bytes = pod_spec.SerializeToString() + affinity
    template_bytes = b"\x12" + bytes([len(pod_spec_bytes)]) + pod_spec_bytes
    spec_bytes = b"\x1a" + bytes([len(template_bytes)]) + template_bytes
    metadata = classes["ObjectMeta"](name="late").SerializeToString()
    raw = (b"\x0a" + bytes([len(metadata)]) + metadata +
           b"\x12" + bytes([len(spec_bytes)]) + spec_bytes)
    refused = post(server, "/apis/apps/v1/namespaces/default/deployments",
                   _envelope("Deployment", "apps/v1", raw), kubeproto.MEDIA_TYPE)
    assert refused.status_code == 415
    assert "field 18 of PodSpec" in refused.json()["message"]
