"""Quota admission against the ResourceQuota controller's recount, under concurrency: an
object is counted once, and concurrent creates never take a namespace over its quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.errors import ApiError, Conflict
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.controllers.resourcequota import ResourceQuotaController
from kompy.cluster.store.sqlite import Store

TOKEN = "t"
LIMIT = 5
CREATORS = 20
ROUNDS = 5
SLOW_WRITE_SECONDS = 0.02


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeClient]:
    # A loaded machine's pace: each create takes a while once the object is written, so a
    # recount can fall between an object's write and its quota's.
    created = Store.create

    def slow_create(self: Store, *args: Any, **kwargs: Any) -> dict[str, Any]:
        out = created(self, *args, **kwargs)
        time.sleep(SLOW_WRITE_SECONDS)
        return out
    monkeypatch.setattr(Store, "create", slow_create)
    server = ApiServer(Store(tmp_path / "store.db"), TOKEN).start()
    try:
        yield KubeClient.for_server(server.url, TOKEN)
    finally:
        server.stop()


def _pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}


def _recount_until(client: KubeClient, done: threading.Event) -> None:
    """The controller's own recount (a fresh read of the quota, then the pods, written with
    the quota's resourceVersion), as fast as it goes, until ``done``."""
    stop = threading.Event()
    controller = ResourceQuotaController(client, Informers(client, stop),
                                         EventRecorder(client, "resourcequota-controller"))
    while not done.is_set():
        try:
            controller._refresh(client.get("resourcequotas", "five", "default"), "default")
        except Conflict:
            continue    # the controller's queue syncs the namespace again


def _used(client: KubeClient) -> str:
    return str(client.get("resourcequotas", "five", "default")["status"]["used"]["pods"])


def _settled(client: KubeClient) -> str:
    """status.used once a recount with nothing racing it has run."""
    stop = threading.Event()
    controller = ResourceQuotaController(client, Informers(client, stop),
                                         EventRecorder(client, "resourcequota-controller"))
    controller._refresh(client.get("resourcequotas", "five", "default"), "default")
    return _used(client)


def _create_at_once(client: KubeClient, round_: int) -> list[str]:
    """CREATORS pods created at the same moment; the refusals' messages."""
    refusals: list[str] = []
    barrier = threading.Barrier(CREATORS)

    def create(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            client.create(_pod(f"p{round_}-{i}"))
        except ApiError as e:
            refusals.append(e.message)
    creators = [threading.Thread(target=create, args=(i,)) for i in range(CREATORS)]
    for t in creators:
        t.start()
    for t in creators:
        t.join(timeout=60)
    return refusals


def test_concurrent_creates_and_recounts_never_exceed_nor_double_count(
        client: KubeClient) -> None:
    client.create({"apiVersion": "v1", "kind": "ResourceQuota",
                   "metadata": {"name": "five", "namespace": "default"},
                   "spec": {"hard": {"pods": str(LIMIT)}}})
    for round_ in range(ROUNDS):
        done = threading.Event()
        recounter = threading.Thread(target=_recount_until, args=(client, done), daemon=True)
        recounter.start()
        refusals = _create_at_once(client, round_)
        done.set()
        recounter.join(timeout=30)
        pods = client.list("pods", "default")["items"]
        # Never over the quota, and every unit of it given out (no object counted twice,
        # which would refuse a create the quota has room for).
        assert len(pods) == LIMIT, (round_, len(pods), refusals[:3])
        assert len(refusals) == CREATORS - LIMIT
        assert all(m.endswith(f"used: pods={LIMIT}, limited: pods={LIMIT}") for m in refusals
                   ), refusals
        assert _used(client) == str(LIMIT)
        for p in pods:
            client.delete("pods", p["metadata"]["name"], "default", grace_period_seconds=0)
        assert _settled(client) == "0"
