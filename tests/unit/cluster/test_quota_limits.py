"""ResourceQuota and LimitRange admission on the API server alone, with kube-apiserver's
messages; the quota controller's status.used on the in-memory cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.errors import ApiError, Invalid
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store

TOKEN = "t"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[KubeClient]:
    server = ApiServer(Store(tmp_path / "store.db"), TOKEN).start()
    try:
        yield KubeClient.for_server(server.url, TOKEN)
    finally:
        server.stop()


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": list(containers) or [{"name": "c", "image": "busybox:1"}],
                     **spec}}


def container(name: str = "c", **resources: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1", "resources": resources}


def quota(name: str, **hard: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": hard}}


def forbidden(client: KubeClient, obj: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as caught:
        client.create(obj)
    assert caught.value.status == 403 and caught.value.reason == "Forbidden"
    assert caught.value.hint is None   # not "the token was refused"
    return caught.value.message


def test_an_object_count_quota_refuses_the_pod_over_it(client: KubeClient) -> None:
    client.create(quota("counts", pods="2", configmaps="1"))
    client.create(pod("a"))
    client.create(pod("b"))
    assert forbidden(client, pod("c")) == ('pods "c" is forbidden: exceeded quota: counts, '
                                           "requested: pods=1, used: pods=2, limited: pods=2")
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert forbidden(client, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "y"}}).startswith('configmaps "y" is forbidden: exceeded quota: counts, '
                                  "requested: configmaps=1, used: configmaps=1")
    assert client.get("resourcequotas", "counts", "default")["status"]["used"] == {
        "pods": "2", "configmaps": "1"}   # what admission charged (no controller here)


def test_a_compute_quota_demands_requests_and_sums_them(client: KubeClient) -> None:
    client.create(quota("compute", **{"requests.cpu": "1", "limits.memory": "1Gi"}))
    assert forbidden(client, pod("bare", container("web"), container("side"))) == (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: '
        "side,web; requests.cpu for: side,web")
    small = container(requests={"cpu": "600m"}, limits={"memory": "512Mi"})
    client.create(pod("one", small))
    message = forbidden(client, pod("two", small))
    assert message == ('pods "two" is forbidden: exceeded quota: compute, requested: '
                       "requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1")
    # Limits alone default the requests (SetDefaults_Pod), so this one states both.
    client.create(pod("three", container(limits={"cpu": "400m", "memory": "512Mi"})))


def test_generated_names_are_in_the_message(client: KubeClient) -> None:
    client.create(quota("one", pods="0"))
    obj = pod("")
    obj["metadata"] = {"generateName": "web-"}
    message = forbidden(client, obj)
    assert message.startswith('pods "web-') and "exceeded quota: one" in message


def test_scopes_limit_only_the_pods_they_name(client: KubeClient) -> None:
    client.create({**quota("besteffort", pods="0"), "spec": {"hard": {"pods": "0"},
                                                            "scopes": ["BestEffort"]}})
    assert "exceeded quota: besteffort" in forbidden(client, pod("free"))
    client.create(pod("sized", container(requests={"cpu": "1m"})))
    client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                   "spec": {"ports": [{"port": 80}]}})


def test_claims_count_storage_by_class(client: KubeClient) -> None:
    client.create(quota("disk", **{"requests.storage": "1Gi",
                                   "kompy-local.storageclass.storage.k8s.io/"
                                   "persistentvolumeclaims": "1"}))

    def claim(name: str, size: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": size}}}}
    assert forbidden(client, claim("big", "2Gi")) == (
        'persistentvolumeclaims "big" is forbidden: exceeded quota: disk, requested: '
        "requests.storage=2Gi, used: requests.storage=0, limited: requests.storage=1Gi")
    client.create(claim("small", "512Mi"))
    message = forbidden(client, claim("second", "1Mi"))
    assert "requested: kompy-local.storageclass.storage.k8s.io/persistentvolumeclaims=1" \
        in message


def limit_range(*items: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
            "spec": {"limits": list(items)}}


def test_a_limit_range_fills_in_defaults_and_says_so(client: KubeClient) -> None:
    stored = client.create(limit_range({"type": "Container", "max": {"cpu": "2"},
                                        "default": {"memory": "256Mi"},
                                        "defaultRequest": {"cpu": "100m"}}))
    # The LimitRange's own defaults: max is the default limit, which is the default request
    # of what has none.
    item = stored["spec"]["limits"][0]
    assert item["default"] == {"memory": "256Mi", "cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}
    made = client.create(pod("web", container("web"), container("side", limits={"cpu": "1"})))
    web, side = made["spec"]["containers"]
    assert web["resources"] == {"limits": {"cpu": "2", "memory": "256Mi"},
                                "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert side["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"},
                                 "requests": {"cpu": "1", "memory": "256Mi"}}
    assert made["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for "
        "container web; memory request for container side; memory limit for container side")


def test_a_limit_range_refuses_what_is_out_of_bounds(client: KubeClient) -> None:
    client.create(limit_range(
        {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"},
         "maxLimitRequestRatio": {"cpu": "2"}},
        {"type": "Pod", "max": {"memory": "1Gi"}},
        {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}))
    assert forbidden(client, pod("hungry", container(limits={"cpu": "2"}))) == (
        'pods "hungry" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
        "maximum memory usage per Pod is 1Gi.  No limit is specified]")
    assert forbidden(client, pod("hungry", container(limits={"cpu": "2", "memory": "1Mi"}))) \
        == ('pods "hungry" is forbidden: [minimum memory usage per Container is 64Mi, but '
            "request is 1Mi, maximum cpu usage per Container is 1, but limit is 2]")
    assert forbidden(client, pod("ratio", container(requests={"cpu": "100m"},
                                                    limits={"cpu": "1", "memory": "128Mi"}))) \
        == ('pods "ratio" is forbidden: cpu max limit to request ratio per Container is 2, '
            "but provided ratio is 10.000000")
    two = container(limits={"cpu": "1", "memory": "768Mi"}, requests={"cpu": "1"})
    assert forbidden(client, pod("pair", two, {**two, "name": "d"})) == (
        'pods "pair" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1536Mi')
    assert forbidden(client, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "huge"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {
            "storage": "5Gi"}}}}) == ('persistentvolumeclaims "huge" is forbidden: maximum '
                                      "storage usage per PersistentVolumeClaim is 1Gi, but "
                                      "request is 5Gi")
    client.create(pod("fits", container(limits={"cpu": "1", "memory": "128Mi"})))


def test_several_problems_are_listed_together(client: KubeClient) -> None:
    client.create(limit_range({"type": "Container", "min": {"cpu": "100m", "memory": "1Mi"}}))
    message = forbidden(client, pod("tiny", container(requests={"cpu": "1m", "memory": "1"})))
    assert message == ('pods "tiny" is forbidden: [minimum cpu usage per Container is 100m, '
                       "but request is 1m, minimum memory usage per Container is 1Mi, but "
                       "request is 1]")


def test_a_bound_claim_may_grow_only_in_an_expandable_class(client: KubeClient) -> None:
    client.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "fixed"}, "provisioner": "example.com/none"})
    made = client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": {"name": "data"},
                          "spec": {"accessModes": ["ReadWriteOnce"],
                                   "storageClassName": "fixed",
                                   "resources": {"requests": {"storage": "1Gi"}}}})
    grown = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    with pytest.raises(Invalid, match="spec is immutable after creation except "
                                      "resources.requests"):
        client.patch("persistentvolumeclaims", "data", "default", grown)
    client.replace_status({**made, "status": {"phase": "Bound"}})
    client.patch("persistentvolumeclaims", "data", "default", {"spec": {"volumeName": "pv"}})
    with pytest.raises(ApiError, match='persistentvolumeclaims "data" is forbidden: only '
                                       "dynamically provisioned pvc can be resized"):
        client.patch("persistentvolumeclaims", "data", "default", grown)
    with pytest.raises(Invalid, match="field can not be less than previous value"):
        client.patch("persistentvolumeclaims", "data", "default",
                     {"spec": {"resources": {"requests": {"storage": "1Mi"}}}})


def test_claims_without_a_class_get_the_default_one(client: KubeClient) -> None:
    classes = client.list("storageclasses")["items"]
    assert [c["metadata"]["name"] for c in classes] == ["kompy-local"]
    assert classes[0]["provisioner"] == "kompy.dev/local"
    made = client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": {"name": "d"},
                          "spec": {"accessModes": ["ReadWriteOnce"],
                                   "resources": {"requests": {"storage": "1Gi"}}}})
    assert made["spec"]["storageClassName"] == "kompy-local"
    explicit = client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                              "metadata": {"name": "e"},
                              "spec": {"accessModes": ["ReadWriteOnce"],
                                       "storageClassName": "",
                                       "resources": {"requests": {"storage": "1Gi"}}}})
    assert explicit["spec"]["storageClassName"] == ""
    # A re-applied manifest without the class or the volume keeps them.
    again = {**made, "spec": {k: v for k, v in made["spec"].items()
                              if k != "storageClassName"}}
    assert client.replace(again)["spec"]["storageClassName"] == "kompy-local"


def test_a_pod_made_before_a_quota_may_still_be_updated(client: KubeClient) -> None:
    client.create(pod("old"))
    client.create(quota("compute", **{"limits.cpu": "1"}))
    client.patch("pods", "old", "default", {"metadata": {"labels": {"touched": "yes"}}})
