"""imagePullSecrets: which credentials the kubelet uses for an image, and that it uses them
(the kubelet and the API on the in-memory backend)."""

from __future__ import annotations

import base64
import json
from typing import Any

from kompy.cluster.kubelet.pullsecrets import credentials_for


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def dockerconfig(name: str, auths: dict[str, Any], *, legacy: bool = False) -> dict[str, Any]:
    if legacy:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                "type": "kubernetes.io/dockercfg", "data": {".dockercfg": b64(json.dumps(auths))}}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))}}


SECRETS = {
    "reg": dockerconfig("reg", {
        "127.0.0.1:5000": {"auth": b64("alice:pw1")},
        "registry.example.com/team": {"username": "bob", "password": "pw2"},
        "https://index.docker.io/v1/": {"auth": b64("carol:pw3")},
        "*.corp.example": {"username": "dave", "password": "pw4"},
    }),
    "broad": dockerconfig("broad", {"registry.example.com": {"auth": b64("erin:pw5")}},
                          legacy=True),
    "broken": {"metadata": {"name": "broken"}, "data": {".dockerconfigjson": b64("{nope")}},
}


def lookup(ns: str, name: str) -> dict[str, Any] | None:
    return SECRETS.get(name)


def pod_with(*names: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "default"},
            "spec": {"imagePullSecrets": [{"name": n} for n in names]}}


def users(image: str, *names: str) -> list[str]:
    return [c["username"] for c in credentials_for(pod_with(*names), image, lookup)]


def test_matching_by_registry_and_path() -> None:
    assert users("127.0.0.1:5000/web:1", "reg") == ["alice"]
    assert users("127.0.0.1:5001/web:1", "reg") == []
    assert users("registry.example.com/team/app:1", "reg", "broad") == ["bob", "erin"]
    assert users("registry.example.com/other/app", "reg", "broad") == ["erin"]
    assert users("registry.example.com/teamx/app", "reg") == []
    assert users("busybox", "reg") == ["carol"]  # Docker Hub's spellings are one registry
    assert users("docker.io/library/busybox:1", "reg") == ["carol"]
    assert users("a.corp.example/x", "reg") == ["dave"]
    assert users("a.b.corp.example/x", "reg") == []


def test_missing_and_broken_secrets_are_skipped() -> None:
    assert users("127.0.0.1:5000/web", "absent", "broken", "reg") == ["alice"]
    assert credentials_for({"metadata": {}, "spec": {}}, "x", lookup) == []


def test_the_kubelet_pulls_with_the_pods_pull_secret(fake_cluster: Any) -> None:
    image = "127.0.0.1:5000/private/app:1"
    backend = fake_cluster.backend
    backend.pullable.add(image)
    backend.protected[image] = {"username": "alice", "password": "pw1"}
    fake_cluster.client.create(SECRETS["reg"])
    spec = {"containers": [{"name": "app", "image": image}]}
    fake_cluster.client.create({"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "anon"}, "spec": spec})
    fake_cluster.wait("anon to fail its pull", lambda: "ErrImagePull" in json.dumps(
        fake_cluster.status_of("anon", "app")) or "ImagePullBackOff" in json.dumps(
        fake_cluster.status_of("anon", "app")))
    assert "authentication required" in json.dumps(fake_cluster.status_of("anon", "app"))
    fake_cluster.client.create({"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "authed"},
                                "spec": {**spec, "imagePullSecrets": [{"name": "reg"}]}})
    fake_cluster.wait("authed to run", lambda: fake_cluster.running("authed", "app"))
    assert {"username": "alice", "password": "pw1"} in backend.pull_auths
