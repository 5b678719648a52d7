"""Server-side apply, managed fields and dry runs, through the real API server over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from kompy.cluster.apiserver import fieldpaths, typed
from kompy.cluster.apiserver.schemas import SchemaRegistry
from kompy.cluster.apiserver.server import ApiServer

TOKEN = "test-token"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"


def call(server: ApiServer, method: str, path: str, body: Any = None,
         content_type: str = "application/json", **params: str) -> requests.Response:
    return requests.request(method, server.url + path, params=params, timeout=10,
                            data=None if body is None else json.dumps(body),
                            headers={"Authorization": f"Bearer {TOKEN}",
                                     "Content-Type": content_type,
                                     "User-Agent": "tester/1.0 (linux)"})


def apply(server: ApiServer, body: Any, manager: str = "kubectl",
          **params: str) -> requests.Response:
    name = body["metadata"]["name"]
    return call(server, "PATCH", f"{DEPLOYMENTS}/{name}", body, APPLY,
                fieldManager=manager, **params)


def deployment(replicas: int | None = 2, labels: dict[str, str] | None = None,
               ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox:1"}
    if ports is not None:
        container["ports"] = ports
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [container]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web"}}, "spec": spec}


def managers(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(m["manager"], m["operation"], m.get("subresource", "")): m["fieldsV1"]
            for m in obj["metadata"].get("managedFields", [])}


def test_apply_creates_then_owns_exactly_what_it_names(server: ApiServer) -> None:
    created = apply(server, deployment(ports=[{"containerPort": 80}]))
    assert created.status_code == 201, created.text
    fields = managers(created.json())[("kubectl", "Apply", "")]
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert container["."] == {} and "f:image" in container
    # The key default (protocol TCP) is part of the item's key, as upstream.
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    assert "f:strategy" not in fields["f:spec"]           # defaulted: nobody's
    entry = created.json()["metadata"]["managedFields"][0]
    assert entry["fieldsType"] == "FieldsV1" and entry["apiVersion"] == "apps/v1"

    again = apply(server, deployment(labels={"app": "web", "tier": "x"}))
    assert again.status_code == 200
    obj = again.json()
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "x"}
    # No more ports in the configuration: the field goes (nobody else owns it).
    assert "ports" not in obj["spec"]["template"]["spec"]["containers"][0]
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"   # defaults stay


def test_conflicts_name_fields_and_managers_and_force_takes_over(server: ApiServer) -> None:
    assert apply(server, deployment()).status_code == 201
    scaled = call(server, "PATCH", f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 5}},
                  "application/merge-patch+json", fieldManager="scaler")
    assert scaled.status_code == 200
    labelled = call(server, "PATCH", f"{DEPLOYMENTS}/web", {"metadata": {"labels": {
        "app": "other"}}}, "application/merge-patch+json")   # manager from the User-Agent
    assert labelled.status_code == 200
    refused = apply(server, deployment(replicas=3))
    assert refused.status_code == 409
    status = refused.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 2 conflicts: conflicts with "scaler" with subresource "scale" '
        'using apps/v1:\n- .spec.replicas\nconflicts with "tester" using apps/v1:\n'
        "- .metadata.labels.app")
    assert {(c["field"], c["message"]) for c in status["details"]["causes"]} == {
        (".spec.replicas", 'conflict with "scaler" with subresource "scale" using apps/v1'),
        (".metadata.labels.app", 'conflict with "tester" using apps/v1')}
    assert all(c["reason"] == "FieldManagerConflict" for c in status["details"]["causes"])

    forced = apply(server, deployment(replicas=3), force="true")
    assert forced.status_code == 200
    obj = forced.json()
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["labels"]["app"] == "web"
    assert ("scaler", "Update", "scale") not in managers(obj)    # nothing left to own


def test_same_value_is_shared_without_conflict(server: ApiServer) -> None:
    assert apply(server, deployment(replicas=2)).status_code == 201
    assert apply(server, deployment(replicas=2), manager="other").status_code == 200
    # The first applier stops naming replicas: co-owned, so the value stays.
    obj = apply(server, deployment(replicas=None)).json()
    assert obj["spec"]["replicas"] == 2
    assert "f:replicas" in managers(obj)[("other", "Apply", "")]["f:spec"]


def test_apply_needs_a_field_manager_and_a_matching_kind(server: ApiServer) -> None:
    missing = call(server, "PATCH", f"{DEPLOYMENTS}/web", deployment(), APPLY)
    assert missing.status_code == 422
    assert "fieldManager: Required value" in missing.json()["message"]
    wrong = apply(server, {**deployment(), "kind": "StatefulSet"})
    assert wrong.status_code == 400
    forced_patch = call(server, "PATCH", f"{DEPLOYMENTS}/web", {}, "application/merge-patch+json",
                        force="true")
    assert forced_patch.status_code == 422


def test_updates_take_the_fields_they_change(server: ApiServer) -> None:
    created = call(server, "POST", DEPLOYMENTS, deployment(), fieldManager="creator")
    assert created.status_code == 201
    fields = managers(created.json())[("creator", "Update", "")]
    assert "f:replicas" in fields["f:spec"] and "f:strategy" in fields["f:spec"]  # defaults
    obj = call(server, "PATCH", f"{DEPLOYMENTS}/web", {"spec": {"replicas": 4}},
               "application/strategic-merge-patch+json", fieldManager="patcher").json()
    owned = managers(obj)
    assert owned[("patcher", "Update", "")] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owned[("creator", "Update", "")]["f:spec"]
    status = call(server, "PUT", f"{DEPLOYMENTS}/web/status",
                  {**obj, "status": {"replicas": 4}}, fieldManager="controller").json()
    assert managers(status)[("controller", "Update", "status")] == {
        "f:status": {".": {}, "f:replicas": {}}}
    reset = call(server, "PATCH", f"{DEPLOYMENTS}/web", {"metadata": {"managedFields": [{}]}},
                 "application/merge-patch+json").json()
    assert "managedFields" not in reset["metadata"]


def test_first_apply_to_an_unmanaged_object_conflicts_with_before_first_apply(
        server: ApiServer) -> None:
    created = call(server, "POST", DEPLOYMENTS, deployment(replicas=2))
    assert created.status_code == 201
    call(server, "PATCH", f"{DEPLOYMENTS}/web", {"metadata": {"managedFields": [{}]}},
         "application/merge-patch+json")
    refused = apply(server, deployment(replicas=3))
    assert refused.status_code == 409
    assert 'conflict with "before-first-apply" using apps/v1: .spec.replicas' in \
        refused.json()["message"]


def test_dry_run_on_every_write(server: ApiServer) -> None:
    dry = call(server, "POST", DEPLOYMENTS, deployment(), dryRun="All")
    assert dry.status_code == 201
    assert dry.json()["metadata"]["uid"] and "resourceVersion" not in dry.json()["metadata"]
    assert call(server, "GET", f"{DEPLOYMENTS}/web").status_code == 404
    assert apply(server, deployment(), dryRun="All").status_code == 201
    assert call(server, "GET", f"{DEPLOYMENTS}/web").status_code == 404
    live = call(server, "POST", DEPLOYMENTS, deployment()).json()
    patched = call(server, "PATCH", f"{DEPLOYMENTS}/web", {"spec": {"replicas": 7}},
                   "application/merge-patch+json", dryRun="All").json()
    assert patched["spec"]["replicas"] == 7
    assert patched["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    put = call(server, "PUT", f"{DEPLOYMENTS}/web", {**live, "spec": {**live["spec"],
                                                                      "replicas": 9}},
               dryRun="All")
    assert put.status_code == 200 and put.json()["spec"]["replicas"] == 9
    assert call(server, "DELETE", f"{DEPLOYMENTS}/web", dryRun="All").status_code == 200
    kept = call(server, "GET", f"{DEPLOYMENTS}/web").json()
    assert kept["spec"]["replicas"] == 2
    assert kept["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    bad = call(server, "DELETE", f"{DEPLOYMENTS}/web", dryRun="Some")
    assert bad.status_code == 422


# -- the typed walk itself ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pod_node() -> typed.Node:
    registry = SchemaRegistry("1.30")
    return typed.Schemas(registry.definitions()).root("io.k8s.api.core.v1.Pod")


def test_field_set_and_compare_follow_the_schema(pod_node: typed.Node) -> None:
    pod = {"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
           "spec": {"containers": [{"name": "c", "args": ["1", "2"]}],
                    "nodeSelector": {}}}
    found = {fieldpaths.render(p) for p in typed.field_set(pod, pod_node)}
    assert found == {".metadata.labels.a", '.metadata.finalizers[="x"]',
                     '.spec.containers[name="c"]', '.spec.containers[name="c"].name',
                     '.spec.containers[name="c"].args', ".spec.nodeSelector"}
    changed = {**pod, "spec": {"containers": [{"name": "c", "args": ["1"]},
                                              {"name": "d"}]}}
    comparison = typed.compare(pod, changed, pod_node)
    assert {fieldpaths.render(p) for p in comparison.modified} == {
        '.spec.containers[name="c"].args'}
    assert {fieldpaths.render(p) for p in comparison.added} == {
        '.spec.containers[name="d"]', '.spec.containers[name="d"].name'}
    assert {fieldpaths.render(p) for p in comparison.removed} == {".spec.nodeSelector"}


def test_fields_v1_round_trip() -> None:
    paths = {(("f", "spec"), ("f", "containers"), ("k", '{"name":"c"}')),
             (("f", "spec"), ("f", "containers"), ("k", '{"name":"c"}'), ("f", "image"))}
    tree = fieldpaths.to_fields_v1(paths)
    assert tree == {"f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}}}}}
    assert fieldpaths.from_fields_v1(tree) == paths
