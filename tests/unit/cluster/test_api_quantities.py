"""Quantities stored and served as kube-apiserver serves them: every resource.Quantity of the
API types decoded and written back canonically (``0.5`` -> ``500m``, ``1.5Gi`` ->
``1536Mi``, ``1000m`` -> ``1``), in every kind that holds one and on every write path; and
a write that canonicalisation makes the same as the stored object is a no-op (server-side
apply again, a dry-run patch as ``kubectl diff`` sends it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kompy.client import KubeClient
from kompy.cluster.apiserver import managedfields
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store

TOKEN = "test-token"
# Sent as a client would (YAML numbers arrive as JSON numbers), and as stored.
RESOURCES = {"requests": {"cpu": 0.5, "memory": "1.5Gi", "ephemeral-storage": "2048Ki"},
             "limits": {"cpu": "1000m", "memory": "2048Mi", "ephemeral-storage": 1073741824}}
# (Upstream keeps 1073741824 as sent: a decimal number of no trailing 000 is canonical.)
CANONICAL = {"requests": {"cpu": "500m", "memory": "1536Mi", "ephemeral-storage": "2Mi"},
             "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1073741824"}}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    srv = ApiServer(Store(tmp_path / "store.db"), TOKEN).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ApiServer) -> KubeClient:
    return KubeClient.for_server(server.url, TOKEN)


def pod_spec() -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "busybox:1", "resources": RESOURCES}],
            "initContainers": [{"name": "i", "image": "busybox:1",
                                "resources": {"limits": {"cpu": 0.1}}}],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "0.5Gi"}}]}


def template() -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "q"}}, "spec": pod_spec()}


def assert_pod_spec(spec: dict[str, Any], pod: bool) -> None:
    assert spec["containers"][0]["resources"] == CANONICAL
    # (A Pod's container requests its limits by default, a template's does not.)
    assert spec["initContainers"][0]["resources"] == {"limits": {"cpu": "100m"}, **(
        {"requests": {"cpu": "100m"}} if pod else {})}
    assert spec["volumes"][0]["emptyDir"] == {"sizeLimit": "512Mi"}


SELECTOR = {"matchLabels": {"app": "q"}}
WORKLOADS = [
    ({"apiVersion": "v1", "kind": "Pod", "spec": pod_spec()}, ("spec",)),
    ({"apiVersion": "apps/v1", "kind": "Deployment",
      "spec": {"selector": SELECTOR, "template": template()}}, ("spec", "template", "spec")),
    ({"apiVersion": "apps/v1", "kind": "ReplicaSet",
      "spec": {"selector": SELECTOR, "template": template()}}, ("spec", "template", "spec")),
    ({"apiVersion": "apps/v1", "kind": "DaemonSet",
      "spec": {"selector": SELECTOR, "template": template()}}, ("spec", "template", "spec")),
    ({"apiVersion": "apps/v1", "kind": "StatefulSet",
      "spec": {"selector": SELECTOR, "serviceName": "q", "template": template()}},
     ("spec", "template", "spec")),
    ({"apiVersion": "batch/v1", "kind": "Job",
      "spec": {"template": {**template(), "spec": {**pod_spec(), "restartPolicy": "Never"}}}},
     ("spec", "template", "spec")),
    ({"apiVersion": "batch/v1", "kind": "CronJob",
      "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
          **template(), "spec": {**pod_spec(), "restartPolicy": "Never"}}}}}},
     ("spec", "jobTemplate", "spec", "template", "spec")),
]


@pytest.mark.parametrize(("obj", "path"), WORKLOADS, ids=[w[0]["kind"] for w in WORKLOADS])
def test_every_pod_template_stores_canonical_quantities(client: KubeClient, obj: dict[str, Any],
                                                       path: tuple[str, ...]) -> None:
    created = client.create({**obj, "metadata": {"name": "q"}})
    for stored in (created, client.get(f"{obj['kind'].lower()}s", "q", "default")):
        spec = stored
        for key in path:
            spec = spec[key]
        assert_pod_spec(spec, obj["kind"] == "Pod")


def test_a_statefulsets_claim_templates_too(client: KubeClient) -> None:
    sts = client.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {
        "name": "db"}, "spec": {"selector": SELECTOR, "serviceName": "db",
                                "template": template(), "volumeClaimTemplates": [{
                                    "metadata": {"name": "data"}, "spec": {
                                        "accessModes": ["ReadWriteOnce"], "resources": {
                                            "requests": {"storage": "1024Mi"}}}}]}})
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"] == {"storage": "1Gi"}


def test_quota_limit_range_claims_volumes_nodes_and_autoscalers(client: KubeClient) -> None:
    quota = client.create({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {
        "name": "q"}, "spec": {"hard": {"requests.cpu": 2.5, "limits.memory": "2048Mi",
                                        "pods": 10}}})
    assert quota["spec"]["hard"] == {"requests.cpu": "2500m", "limits.memory": "2Gi",
                                     "pods": "10"}
    quota["status"] = {"hard": quota["spec"]["hard"], "used": {"requests.cpu": "0.25",
                                                               "limits.memory": 0}}
    assert client.replace_status(quota)["status"]["used"] == {"requests.cpu": "250m",
                                                              "limits.memory": "0"}

    limits = client.create({"apiVersion": "v1", "kind": "LimitRange", "metadata": {
        "name": "l"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": 2.0},
                                           "min": {"memory": "1e6"},
                                           "default": {"cpu": "0.75"},
                                           "defaultRequest": {"cpu": 0.5},
                                           "maxLimitRequestRatio": {"cpu": 4}}]}})
    assert limits["spec"]["limits"][0] == {
        "type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1e6"},
        "default": {"cpu": "750m"}, "defaultRequest": {"cpu": "500m", "memory": "1e6"},
        "maxLimitRequestRatio": {"cpu": "4"}}

    claim = client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {
        "name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {
            "requests": {"storage": "0.5Gi"}}}})
    assert claim["spec"]["resources"]["requests"] == {"storage": "512Mi"}
    claim["status"] = {"phase": "Bound", "capacity": {"storage": "1024Mi"}}
    assert client.replace_status(claim)["status"]["capacity"] == {"storage": "1Gi"}

    volume = client.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {
        "name": "v"}, "spec": {"capacity": {"storage": "1.5Gi"}, "accessModes": [
            "ReadWriteOnce"], "hostPath": {"path": "/tmp/kompy-test-v"}}})
    assert volume["spec"]["capacity"] == {"storage": "1536Mi"}

    node = client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                          "status": {"capacity": {"cpu": 2, "memory": "4096Mi",
                                                  "pods": "110"},
                                     "allocatable": {"cpu": "1.5", "memory": "3.5Gi"}}})
    node["status"]["capacity"]["memory"] = "8192Mi"
    status = client.replace_status(node)["status"]
    assert status["capacity"] == {"cpu": "2", "memory": "8Gi", "pods": "110"}
    assert status["allocatable"] == {"cpu": "1500m", "memory": "3584Mi"}

    hpa = client.create({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                         "metadata": {"name": "h"}, "spec": {
                             "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                "name": "web"},
                             "minReplicas": 1, "maxReplicas": 3, "metrics": [
                                 {"type": "Resource", "resource": {"name": "memory", "target": {
                                     "type": "AverageValue", "averageValue": "1024Mi"}}},
                                 {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
                                     "type": "AverageValue", "averageValue": 0.5}}}]}})
    targets = [m[m["type"].lower()]["target"]["averageValue"] for m in hpa["spec"]["metrics"]]
    assert targets == ["1Gi", "500m"]


def call(server: ApiServer, method: str, path: str, body: Any, content_type: str,
         **params: str) -> requests.Response:
    return requests.request(method, server.url + path, params=params, data=json.dumps(body),
                            headers={"Authorization": f"Bearer {TOKEN}",
                                     "Content-Type": content_type}, timeout=10)


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"selector": SELECTOR, "template": {
                  "metadata": {"labels": {"app": "q"}}, "spec": {"containers": [
                      {"name": "c", "image": "busybox:1", "resources": RESOURCES}]}}}}
WEB = "/apis/apps/v1/namespaces/default/deployments/web"


def test_applying_the_same_configuration_again_writes_nothing(
        server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Server-side apply of non-canonical values, then again at a later time (the entry's
    time would change): the same resourceVersion, generation and managed fields, as
    kube-apiserver's IgnoreManagedFieldsTimestampsTransformer keeps them."""
    first = call(server, "PATCH", WEB, DEPLOYMENT, "application/apply-patch+yaml",
                 fieldManager="kubectl")
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"] == CANONICAL
    monkeypatch.setattr(managedfields, "now", lambda: "2030-01-02T03:04:05Z")
    again = call(server, "PATCH", WEB, DEPLOYMENT, "application/apply-patch+yaml",
                 fieldManager="kubectl").json()
    assert again["metadata"] == stored["metadata"]
    # A change still writes, and takes a new time.
    changed = json.loads(json.dumps(DEPLOYMENT))
    changed["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = 2
    third = call(server, "PATCH", WEB, changed, "application/apply-patch+yaml",
                 fieldManager="kubectl").json()
    assert third["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"]
    assert third["metadata"]["managedFields"][0]["time"] != \
        stored["metadata"]["managedFields"][0]["time"]


def test_a_patch_of_the_same_value_in_another_spelling_changes_nothing(
        server: ApiServer, client: KubeClient) -> None:
    """What ``kubectl apply`` (client-side) sends again for ``cpu: 0.5`` against the live
    ``500m``, and ``kubectl diff`` sends as a dry run: the result is the live object."""
    live = client.create(DEPLOYMENT)
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": 0.5}, "limits": {"cpu": "1000m"}}}]}}}}
    for params in ({"dryRun": "All"}, {}):
        answer = call(server, "PATCH", WEB, patch, "application/strategic-merge-patch+json",
                      fieldManager="kubectl-client-side-apply", **params)
        assert answer.status_code == 200, answer.text
        assert answer.json() == live
    assert client.get("deployments", "web", "default") == live
