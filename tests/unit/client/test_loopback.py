"""The in-process transport: the same KubeClient answers as over HTTPS, with no socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.errors import ApiError, Conflict, NotFound, Unauthorized
from kompy.client.loopback import attach
from kompy.cluster.apiserver.handlers import Api
from kompy.cluster.apiserver.server import Router
from kompy.cluster.store.sqlite import Store

TOKEN = "test-token"
# Nothing listens here: a request that left the process would fail to connect.
URL = "https://127.0.0.1:9"


class FakePodIO:
    def logs(self, namespace: str, pod: str, container: str, *, follow: bool, previous: bool,
             tail_lines: int | None, since: float | None = None,
             timestamps: bool = False) -> Iterator[bytes]:
        yield from (b"one\n", b"two\n")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(Store(tmp_path / "store.db"))
    api.pod_io = FakePodIO()
    yield api
    api.closing.set()
    api.store.wake()


def client_of(api: Api, token: str = TOKEN) -> KubeClient:
    return attach(KubeClient.for_server(URL, token), Router(api, TOKEN))


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}


def test_crud_and_errors_as_over_http(api: Api) -> None:
    client = client_of(api)
    created = client.create(pod("a", app="web"))
    assert created["metadata"]["uid"] and created["status"]["phase"] == "Pending"
    client.create(pod("b", app="db"))
    assert client.get("pods", "a")["metadata"]["uid"] == created["metadata"]["uid"]
    assert [p["metadata"]["name"] for p in client.list("pods", label_selector="app=web")
            ["items"]] == ["a"]
    with pytest.raises(Conflict):
        client.create(pod("a"))
    with pytest.raises(NotFound):
        client.get("pods", "nope")
    patched = client.patch("pods", "a", "default", {"metadata": {"labels": {"x": "1"}}})
    assert patched["metadata"]["labels"] == {"app": "web", "x": "1"}
    assert client.delete("pods", "b") is None


def test_the_token_is_still_checked(api: Api) -> None:
    with pytest.raises(Unauthorized):
        client_of(api, "wrong").list("pods")


def test_callers_never_share_objects_with_the_store(api: Api) -> None:
    client = client_of(api)
    created = client.create(pod("a", app="web"))   # (empty labels would not be stored)
    created["metadata"]["labels"]["changed"] = "yes"
    assert "changed" not in client.get("pods", "a")["metadata"]["labels"]


def test_watch_streams_changes(api: Api) -> None:
    client = client_of(api)
    rv = client.list("pods")["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    def write() -> None:
        client_of(api).create(pod("late"))
        client_of(api).delete("pods", "late")
    timer = threading.Timer(0.05, write)
    timer.start()
    for kind, obj in client.watch("pods", "default", resource_version=rv, timeout_seconds=10):
        seen.append((kind, obj["metadata"]["name"]))
        if kind == "DELETED":
            break
    timer.join()
    assert seen == [("ADDED", "late"), ("DELETED", "late")]


def test_logs(api: Api) -> None:
    # (exec is an upgraded connection: over a socket only, tests/unit/cluster/test_streams.py)
    client = client_of(api)
    client.create(pod("a"))
    assert b"".join(client.logs("a", "default")) == b"one\ntwo\n"


def test_a_stopping_server_refuses_instead_of_answering_empty_watches(api: Api) -> None:
    client = client_of(api)
    api.closing.set()
    with pytest.raises(ApiError) as error:
        client.list("pods")
    assert error.value.status == 503
