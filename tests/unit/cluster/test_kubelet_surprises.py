"""Surprises in a pod's sync (a malformed object in the store, an unexpected error) become a
pod event and a waiting reason, retried with a back-off: never a silent loop, never a
Pending pod without a reason."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from kompy.client.resources import lookup
from kompy.cluster.kubelet.backend import ContainerSpec
from kompy.cluster.kubelet.volumes import PodConfigError, configmap_data, secret_data


def pod(name: str, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "kompy/busybox:1", **container}]}}


def events(cluster: Any, name: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in cluster.client.list("events", "default")["items"]
            if e["reason"] == reason and e["involvedObject"]["name"] == name]


def test_malformed_configmap_and_secret_data_are_config_errors_naming_the_field() -> None:
    cm = {"kind": "ConfigMap", "metadata": {"name": "settings"}, "data": "not a map"}
    with pytest.raises(PodConfigError, match=r'configmap "settings": data must be a map'):
        configmap_data(cm)
    bad = {"kind": "ConfigMap", "metadata": {"name": "bin"}, "binaryData": {"k": "%%%"}}
    with pytest.raises(PodConfigError, match=r'configmap "bin": binaryData.k is not valid'):
        configmap_data(bad)
    secret = {"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "hunter2!"}}
    with pytest.raises(PodConfigError) as error:
        secret_data(secret)
    assert "data.password is not valid base64" in error.value.message
    assert "hunter2" not in error.value.message
    # Line breaks in base64 are fine, as for kube-apiserver (Go's decoder skips them).
    wrapped = {"kind": "Secret", "metadata": {"name": "w"}, "data": {"k": "aGVs\nbG8="}}
    assert secret_data(wrapped) == {"k": b"hello"}


def test_a_malformed_configmap_in_the_store_is_a_reason_and_an_event(
        fake_node: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Written straight into the store, as an API server that did not validate fields did.
    fake_node.store.create(lookup("configmaps"), {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"}, "data": "MODE=fast"})
    cluster = fake_node.start()
    with caplog.at_level(logging.WARNING):
        cluster.client.create(pod("web", envFrom=[{"configMapRef": {"name": "settings"}}]))
        waiting = cluster.wait("a waiting reason", lambda: (
            cluster.status_of("web", "app").get("state") or {}).get("waiting"))
    assert waiting["reason"] == "CreateContainerConfigError"
    assert 'configmap "settings": data must be a map of strings' in waiting["message"]
    assert cluster.wait("a Failed event", lambda: events(cluster, "web", "Failed"))
    assert "Traceback" not in caplog.text
    # Put right, the pod starts (the ConfigMap's change wakes it up).
    cm = cluster.client.get("configmaps", "settings", "default")
    cluster.client.replace({**cm, "data": {"MODE": "fast"}})
    cluster.wait("web Running", lambda: cluster.running("web", "app"))


def test_an_unexpected_error_is_an_event_a_reason_and_a_back_off(fake_node: Any) -> None:
    create = fake_node.backend.create
    attempts: list[float] = []
    broken = {"now": True}

    def create_or_fail(spec: ContainerSpec) -> str:
        if broken["now"] and "_web_" in spec.name:
            attempts.append(time.monotonic())
            raise RuntimeError("something nobody expected")
        cid: str = create(spec)
        return cid

    fake_node.backend.create = create_or_fail
    cluster = fake_node.start()
    cluster.client.create(pod("web"))
    waiting = cluster.wait("a waiting reason", lambda: (
        cluster.status_of("web", "app").get("state") or {}).get("waiting"))
    assert waiting == {"reason": "CreateContainerError",
                       "message": "RuntimeError: something nobody expected"}
    assert cluster.pod("web")["status"]["phase"] == "Pending"
    failed = cluster.wait("a FailedSync event", lambda: events(cluster, "web", "FailedSync"))
    assert failed[0]["type"] == "Warning"
    assert failed[0]["message"] == "error syncing pod: RuntimeError: something nobody expected"
    cluster.wait("a second attempt", lambda: len(attempts) >= 2)
    assert attempts[1] - attempts[0] >= 0.9  # backed off, not tried again at once
    broken["now"] = False
    cluster.wait("web Running once the fault is gone", lambda: cluster.running("web", "app"),
                 timeout=10)
