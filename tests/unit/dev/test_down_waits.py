"""``kompy down``'s wait for the pods to go: it says what it waits for, and ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kompy.dev import down
from kompy.errors import ClusterError


class _Pods:
    """A client whose namespace holds ``pods`` for the first ``lists`` lists, then none."""

    def __init__(self, pods: list[str], lists: int) -> None:
        self.pods = pods
        self.lists = lists

    def list(self, resource: str, namespace: str, label_selector: str | None = None
             ) -> dict[str, Any]:
        self.lists -= 1
        items = [{"metadata": {"name": n}} for n in self.pods] if self.lists >= 0 else []
        return {"metadata": {"resourceVersion": "7"}, "items": items}

    def watch(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        yield "MODIFIED", {}


def test_the_wait_names_the_pods_it_still_waits_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(down, "PROGRESS_SECONDS", 0.0)
    said: list[str] = []
    client = _Pods(["web-1", "db-0"], lists=2)
    down._wait_no_pods(client, "ns", time.monotonic() + 60, say=said.append)  # type: ignore[arg-type]
    assert len(said) == 2
    assert said[0].startswith("waiting for 2 pods to stop (at most ")
    assert said[0].endswith(" s more): web-1, db-0")


def test_the_wait_is_quiet_for_its_first_seconds() -> None:
    said: list[str] = []
    down._wait_no_pods(_Pods(["web-1"], lists=3), "ns", time.monotonic() + 60,  # type: ignore[arg-type]
                       say=said.append)
    assert said == []


def test_the_wait_ends_at_its_deadline_naming_the_pods() -> None:
    with pytest.raises(ClusterError, match="timed out waiting for pods to stop: web-1"):
        down._wait_no_pods(_Pods(["web-1"], lists=10**6), "ns",  # type: ignore[arg-type]
                           time.monotonic() + 0.2)


def test_progress_says_at_most_once_per_period() -> None:
    said: list[str] = []
    progress = down.Progress(said.append, every=3600)
    progress.due = 0.0
    for _ in range(3):
        progress.tick("x")
    assert said == ["x"]


def test_a_sessions_clean_up_uses_its_client(tmp_path: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # kompy dev's Ctrl-C must not go through ClusterTarget.connect: for the built-in
    # cluster that starts the daemon when a health check misses, and waits up to 120 s
    # for a slow one to answer.
    import io

    from kompy.client import KubeClient
    from kompy.cluster.apiserver.server import ApiServer
    from kompy.cluster.store.sqlite import Store
    from kompy.dev.target import ClusterTarget

    def connect(*_: Any) -> None:
        raise AssertionError("the clean-up connected anew")

    monkeypatch.setattr(ClusterTarget, "connect", connect)
    server = ApiServer(Store(tmp_path / "s.db"), "t").start()
    try:
        client = KubeClient.for_server(server.url, "t")
        client.create({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "shop"}})
        client.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "settings", "namespace": "shop",
                                    "labels": {"app.kubernetes.io/managed-by": "kompy"}}})
        out = io.StringIO()
        request = down.DownRequest(project_name="shop", target=ClusterTarget(context="c"))
        assert down.run_down(request, out, io.StringIO(), client) == 0
        assert "configmap/settings deleted" in out.getvalue()
    finally:
        server.stop()
