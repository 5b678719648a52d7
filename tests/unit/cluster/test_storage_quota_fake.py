"""PersistentVolumes, StorageClasses and quotas' status on the in-memory cluster: the real
API server, controllers and kubelet, the fake engine's volumes."""

from __future__ import annotations

from typing import Any

from kompy.client import NotFound


def claim(name: str, size: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": size}}, **spec}}


def storage_class(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name}, "provisioner": "kompy.dev/local", **fields}


def volume(name: str, size: str, labels: dict[str, str] | None = None,
           **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/tmp/{name}"}, "storageClassName": "", **spec}}


def pod_with(name: str, claim_name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "image": "kompy/busybox:1",
                        "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace":
                                                           "default"}, "spec": spec}


def get(cluster: Any, plural: str, name: str, ns: str | None = "default"
        ) -> dict[str, Any] | None:
    try:
        return cluster.client.get(plural, name, ns)
    except NotFound:
        return None


def bound(cluster: Any, name: str) -> dict[str, Any] | None:
    found = get(cluster, "persistentvolumeclaims", name)
    if found and (found.get("status") or {}).get("phase") == "Bound" and \
            found["spec"].get("volumeName"):
        return found
    return None


def events(cluster: Any, name: str) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in cluster.client.list("events", "default")[
        "items"] if e["involvedObject"]["name"] == name]


def test_a_claim_is_provisioned_and_deleted_with_its_volume(fake_cluster: Any) -> None:
    fake_cluster.client.create(claim("data"))
    made = fake_cluster.wait("the claim bound", lambda: bound(fake_cluster, "data"))
    pv_name = made["spec"]["volumeName"]
    assert pv_name == f"pvc-{made['metadata']['uid']}"
    assert made["status"]["capacity"] == {"storage": "1Gi"}
    pv = fake_cluster.client.get("persistentvolumes", pv_name)
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["name"] == "data"
    assert pv["spec"]["csi"] == {"driver": "kompy.dev/local",
                                 "volumeHandle": "kompy-fake-default-data"}
    assert "kompy-fake-default-data" in fake_cluster.backend.volumes
    fake_cluster.client.delete("persistentvolumeclaims", "data", "default")
    fake_cluster.wait("the volume deleted", lambda: get(
        fake_cluster, "persistentvolumes", pv_name, None) is None)
    assert "kompy-fake-default-data" not in fake_cluster.backend.volumes


def test_a_retained_volume_is_released_and_kept(fake_cluster: Any) -> None:
    fake_cluster.client.create(storage_class("keep", reclaimPolicy="Retain",
                                             allowVolumeExpansion=True))
    fake_cluster.client.create(claim("kept", storageClassName="keep"))
    pv_name = fake_cluster.wait("bound", lambda: bound(fake_cluster, "kept"))["spec"][
        "volumeName"]
    # Grown: the class allows it, the volume and the claim say the new size.
    fake_cluster.client.patch("persistentvolumeclaims", "kept", "default",
                              {"spec": {"resources": {"requests": {"storage": "3Gi"}}}})
    fake_cluster.wait("the claim grown", lambda: (get(
        fake_cluster, "persistentvolumeclaims", "kept") or {}).get("status", {}).get(
        "capacity") == {"storage": "3Gi"})
    assert fake_cluster.client.get("persistentvolumes", pv_name)["spec"]["capacity"] == {
        "storage": "3Gi"}
    fake_cluster.client.delete("persistentvolumeclaims", "kept", "default")
    fake_cluster.wait("the volume released", lambda: (get(
        fake_cluster, "persistentvolumes", pv_name, None) or {}).get("status", {}).get(
        "phase") == "Released")
    assert "kompy-fake-default-kept" in fake_cluster.backend.volumes


def test_a_static_volume_binds_by_selector_and_size(fake_cluster: Any) -> None:
    for name, size, tier in (("big", "10Gi", "fast"), ("small", "2Gi", "fast"),
                             ("tiny", "100Mi", "fast"), ("other", "2Gi", "slow")):
        fake_cluster.client.create(volume(name, size, {"tier": tier}))
    fake_cluster.wait("volumes Available", lambda: all(
        (get(fake_cluster, "persistentvolumes", n, None) or {}).get("status", {}).get(
            "phase") == "Available" for n in ("big", "small", "tiny", "other")))
    fake_cluster.client.create(claim("pick", "1Gi", storageClassName="",
                                     selector={"matchLabels": {"tier": "fast"}}))
    made = fake_cluster.wait("bound", lambda: bound(fake_cluster, "pick"))
    assert made["spec"]["volumeName"] == "small"
    assert made["status"]["capacity"] == {"storage": "2Gi"}
    fake_cluster.client.create(claim("none", "50Gi", storageClassName=""))
    fake_cluster.wait("FailedBinding", lambda: ("FailedBinding", "no persistent volumes "
                      "available for this claim and no storage class is set")
                      in events(fake_cluster, "none"))


def test_wait_for_first_consumer_binds_when_a_pod_is_scheduled(
        fake_cluster: Any) -> None:
    fake_cluster.client.create(storage_class("late", volumeBindingMode="WaitForFirstConsumer"))
    fake_cluster.client.create(claim("later", storageClassName="late"))
    fake_cluster.wait("the event", lambda: any(r == "WaitForFirstConsumer" for r, _ in events(
        fake_cluster, "later")))
    assert not bound(fake_cluster, "later")
    fake_cluster.client.create(pod_with("user", "later"))
    made = fake_cluster.wait("bound", lambda: bound(fake_cluster, "later"))
    assert made["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "kompy"
    fake_cluster.wait("the pod running", lambda: fake_cluster.running("user", "c"))


def test_a_read_write_once_volume_is_refused_on_a_second_node(
        fake_cluster: Any) -> None:
    fake_cluster.client.create(claim("shared"))
    pv_name = fake_cluster.wait("bound", lambda: bound(fake_cluster, "shared"))["spec"][
        "volumeName"]
    fake_cluster.client.create(pod_with("first", "shared", node="elsewhere"))
    fake_cluster.client.create(pod_with("second", "shared"))
    fake_cluster.wait("the Multi-Attach event", lambda: (
        "FailedAttachVolume", f'Multi-Attach error for volume "{pv_name}" Volume is already '
        "used by pod(s) first") in events(fake_cluster, "second"))
    assert not fake_cluster.running("second", "c")


def test_quota_status_follows_usage(fake_cluster: Any) -> None:
    fake_cluster.client.create({"apiVersion": "v1", "kind": "ResourceQuota",
                                "metadata": {"name": "q", "namespace": "default"},
                                "spec": {"hard": {"pods": "5", "requests.memory": "1024Mi",
                                                  "count/deployments.apps": "2"}}})

    def status() -> dict[str, Any]:
        return dict((get(fake_cluster, "resourcequotas", "q") or {}).get("status") or {})
    fake_cluster.wait("the status", lambda: status().get("used") == {
        "pods": "0", "requests.memory": "0", "count/deployments.apps": "0"})
    assert status()["hard"]["requests.memory"] == "1Gi"
    fake_cluster.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "p", "namespace": "default"}, "spec": {"restartPolicy": "Never", "containers": [{
            "name": "c", "image": "kompy/busybox:1",
            "resources": {"requests": {"memory": "64Mi"}}}]}})
    fake_cluster.wait("pods counted", lambda: status().get("used", {}).get("pods") == "1")
    assert status()["used"]["requests.memory"] == "64Mi"
    container = fake_cluster.wait("the container", lambda: fake_cluster.running("p", "c"))
    fake_cluster.backend.exit(container.id, 0)
    fake_cluster.wait("a pod that is done uncounted", lambda: status().get("used", {}).get(
        "pods") == "0")
    fake_cluster.client.delete("pods", "p", "default", grace_period_seconds=0)
    fake_cluster.wait("pods uncounted", lambda: status().get("used", {}).get("pods") == "0")


def test_a_replicaset_over_its_quota_says_so(fake_cluster: Any) -> None:
    fake_cluster.client.create({"apiVersion": "v1", "kind": "ResourceQuota",
                                "metadata": {"name": "two", "namespace": "default"},
                                "spec": {"hard": {"pods": "2"}}})
    fake_cluster.client.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "containers": [{"name": "c", "image": "kompy/busybox:1"}]}}}})

    def refused() -> str | None:
        for reason, message in events(fake_cluster, "web"):
            if reason == "FailedCreate":
                return message
        return None
    message = fake_cluster.wait("FailedCreate", refused)
    assert message.startswith('Error creating: pods "web-')
    assert message.endswith("is forbidden: exceeded quota: two, requested: pods=1, used: "
                            "pods=2, limited: pods=2")
    assert len(fake_cluster.client.list("pods", "default")["items"]) == 2
