"""kompy up's pure parts: URLs of published ports, apply order and pruning."""

from __future__ import annotations

from typing import Any

from kompy.client import NotFound
from kompy.dev.up import apply_all, prune, published_urls


def service(name: str, host_ports: str | None) -> dict[str, Any]:
    annotations = {"kompy.dev/host-ports": host_ports} if host_ports else {}
    return {"kind": "Service", "metadata": {"name": name, "annotations": annotations,
                                            "labels": {"app.kubernetes.io/name": name}}}


def test_published_urls_from_the_host_ports_annotation() -> None:
    objects = [service("web", "8080:80/tcp,8443:443/tcp"), service("db", None),
               service("dns", "5353:53/udp"), {"kind": "Deployment", "metadata": {}}]
    urls = [(u.service, u.text()) for u in published_urls(objects)]
    assert urls == [("dns", "udp://127.0.0.1:5353"), ("web", "http://127.0.0.1:8080"),
                    ("web", "http://127.0.0.1:8443")]


def test_malformed_annotation_entries_are_skipped() -> None:
    assert published_urls([service("web", "x:80, ,8080")]) == []


class RecordingClient:
    def __init__(self, existing: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.applied: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str]] = []
        self.existing = existing or {}

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(obj)
        return obj

    def apply_server_side(self, obj: dict[str, Any], manager: str
                          ) -> tuple[dict[str, Any], str]:
        assert manager == "kompy"
        self.applied.append(obj)
        return obj, "created"

    def get(self, plural: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for item in self.existing.get(plural, []):
            if item["metadata"]["name"] == name:
                return item
        raise NotFound(404, "NotFound", f"{plural} {name!r} not found")

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(obj)
        return obj

    def list(self, plural: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        return {"items": self.existing.get(plural, [])}

    def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        self.deleted.append((plural, name))


def test_apply_creates_the_namespace_first_then_config_then_workloads() -> None:
    client = RecordingClient()
    objects = [{"kind": "Deployment", "metadata": {"name": "web"}},
               {"kind": "Service", "metadata": {"name": "web"}},
               {"kind": "ConfigMap", "metadata": {"name": "cfg"}}]
    applied = apply_all(client, "shop", objects, lambda _: None)  # type: ignore[arg-type]
    assert [o["kind"] for o in client.applied] == ["Namespace", "ConfigMap", "Service",
                                                  "Deployment"]
    assert all(o["metadata"]["namespace"] == "shop" for o in client.applied[1:])
    assert applied == {("Deployment", "web"), ("Service", "web"), ("ConfigMap", "cfg")}


def test_a_namespace_that_exists_is_used_as_it_is() -> None:
    client = RecordingClient({"namespaces": [{"metadata": {"name": "shop"}}]})
    apply_all(client, "shop", [{"kind": "Service", "metadata": {"name": "web"}}],
              lambda _: None)  # type: ignore[arg-type]
    assert [o["kind"] for o in client.applied] == ["Service"]


def test_prune_deletes_what_the_project_no_longer_produces_but_not_owned_objects() -> None:
    existing = {
        "deployments": [{"kind": "Deployment", "metadata": {"name": "web"}},
                        {"kind": "Deployment", "metadata": {"name": "old"}}],
        "pods": [{"kind": "Pod", "metadata": {"name": "web-1",
                                              "ownerReferences": [{"kind": "ReplicaSet"}]}}],
    }
    client = RecordingClient(existing)
    prune(client, "shop", {("Deployment", "web")}, lambda _: None)  # type: ignore[arg-type]
    assert client.deleted == [("deployments", "old")]


def test_ports_the_proxy_could_not_listen_on_are_found_in_events() -> None:
    from kompy.dev.up import _listen_failures

    class Events:
        def list(self, resource: str, namespace: str | None = None) -> dict[str, Any]:
            return {"items": [
                {"reason": "FailedToListen", "message": "cannot listen on 127.0.0.1:8080/tcp: "
                 "Address already in use (is another program using this port?)"},
                {"reason": "Scheduled", "message": "127.0.0.1:9999/ nothing"}]}

    failures = _listen_failures(Events(), "shop")  # type: ignore[arg-type]
    assert list(failures) == [8080]
    assert "Address already in use" in failures[8080]
