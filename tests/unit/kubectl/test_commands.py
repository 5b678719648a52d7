"""kubectl-like commands against an in-process API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store
from kompy.errors import UserError
from kompy.kubectl import commands as kubectl


@pytest.fixture
def client(tmp_path: Path) -> Iterator[KubeClient]:
    server = ApiServer(Store(tmp_path / "s.db"), "t").start()
    yield KubeClient.for_server(server.url, "t")
    server.stop()


def pod(name: str, ready: bool, phase: str = "Running") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_resolve_pod_prefers_ready_pods(client: KubeClient) -> None:
    client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    for name, ready in (("a", False), ("b", True)):
        created = client.create(pod(name, ready))
        created["status"] = pod(name, ready)["status"]
        client.replace_status(created)
    assert kubectl.resolve_pod(client, "svc/web", None)["metadata"]["name"] == "b"
    assert kubectl.resolve_pod(client, "pod/a", None)["metadata"]["name"] == "a"
    with pytest.raises(UserError, match="no pods found"):
        client.patch("services", "web", None, {"spec": {"selector": {"app": "none"}}})
        kubectl.resolve_pod(client, "svc/web", None)


def test_get_and_delete_by_selector(client: KubeClient) -> None:
    for name in ("a", "b"):
        client.create(pod(name, True))
    lines: list[str] = []
    kubectl.get(client, "pods", (), namespace=None, all_namespaces=False, output=None,
                selector="app=web", watch=False, out=lines.append)
    table = "".join(lines).splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row.split()[0] for row in table[1:]] == ["a", "b"]
    lines.clear()
    kubectl.delete(client, "pods", (), (), None, "app=web", lines.append)
    assert lines == ['pod "a" deleted\n', 'pod "b" deleted\n']
    with pytest.raises(UserError, match="not found"):
        kubectl.delete(client, "pod", ("a",), (), None, None, lines.append)


def test_scale_refuses_other_kinds(client: KubeClient) -> None:
    with pytest.raises(UserError, match="cannot scale a Service"):
        kubectl.scale(client, "svc", "web", 2, None, print)


def test_get_watch_prints_changes_in_the_tables_columns(client: KubeClient,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import threading

    client.create(pod("first-pod-with-a-long-name", True))
    watch = client.watch
    monkeypatch.setattr(client, "watch",
                        lambda *a, **kw: watch(*a, **{**kw, "timeout_seconds": 2}))
    lines: list[str] = []
    threading.Timer(0.3, lambda: client.create(pod("b", False, "Pending"))).start()
    kubectl.get(client, "pods", (), namespace=None, all_namespaces=False, output=None,
                selector=None, watch=True, out=lines.append)
    rows = "".join(lines).splitlines()
    assert rows[0].startswith("NAME") and rows[1].startswith("first-pod-with-a-long-name")
    assert rows[-1].split()[:3] == ["b", "0/1", "Pending"]
    assert rows[-1].index("0/1") == rows[1].index("0/1")


def test_describe_service_and_deployment(client: KubeClient) -> None:
    from kompy.kubectl.describe import describe

    client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    client.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
                   "subsets": [{"addresses": [{"ip": "172.20.0.5"}],
                                "ports": [{"port": 80}]}]})
    text = describe(client, "svc", "web", None)
    assert "Endpoints:" in text and "172.20.0.5:80" in text and "80/TCP" in text
    client.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [{"name": "c",
                                                                  "image": "i:1"}]}}}})
    text = describe(client, "deploy", "web", None)
    assert "2 desired | 0 updated | 0 total | 0 available | 0 unavailable" in text
    assert text.split("Events:")[1].strip() == "<none>"
