"""The SQLite store: versions, concurrency, deletion, event log and compaction."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from kompy.client.errors import Conflict, Gone, NotFound
from kompy.client.resources import lookup
from kompy.cluster.store.sqlite import Store

PODS = lookup("pods")
CMS = lookup("configmaps")
DEPLOYS = lookup("deployments")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store.db")


def pod(name: str, node: str | None = None, **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec}


def test_create_sets_metadata_and_versions_increase(store: Store) -> None:
    a = store.create(PODS, pod("a"))
    b = store.create(CMS, {"kind": "ConfigMap", "apiVersion": "v1",
                           "metadata": {"name": "b", "namespace": "default"}})
    assert a["metadata"]["uid"] and a["metadata"]["creationTimestamp"].endswith("Z")
    # As kube-apiserver: workloads have a generation, pods and config maps none.
    assert "generation" not in a["metadata"] and "generation" not in b["metadata"]
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert store.get(PODS, "default", "a") == a


def test_create_twice_is_already_exists(store: Store) -> None:
    store.create(PODS, pod("a"))
    with pytest.raises(Conflict) as info:
        store.create(PODS, pod("a"))
    assert info.value.reason == "AlreadyExists"


def test_generate_name(store: Store) -> None:
    obj = pod("x")
    del obj["metadata"]["name"]
    obj["metadata"]["generateName"] = "web-"
    names = {store.create(PODS, obj)["metadata"]["name"] for _ in range(20)}
    assert len(names) == 20 and all(n.startswith("web-") and len(n) == 9 for n in names)


def test_stale_resource_version_conflicts(store: Store) -> None:
    first = store.create(PODS, pod("a"))
    second = dict(first, spec={**first["spec"], "nodeName": "n1"})
    store.update(PODS, second)
    with pytest.raises(Conflict):
        store.update(PODS, dict(first, spec={**first["spec"], "nodeName": "n2"}))


def test_generation_bumps_on_spec_changes_only(store: Store) -> None:
    obj = store.create(DEPLOYS, {"kind": "Deployment", "apiVersion": "apps/v1",
                                 "metadata": {"name": "a", "namespace": "default"},
                                 "spec": {"replicas": 1}})
    assert obj["metadata"]["generation"] == 1
    obj["metadata"]["labels"] = {"x": "y"}
    relabelled = store.update(DEPLOYS, obj)
    assert relabelled["metadata"]["generation"] == 1
    relabelled["spec"]["replicas"] = 2
    assert store.update(DEPLOYS, relabelled)["metadata"]["generation"] == 2


def test_status_subresource_separates_spec_and_status(store: Store) -> None:
    obj = store.create(PODS, pod("a"))
    obj["status"] = {"phase": "Running"}
    obj["spec"]["nodeName"] = "ignored"
    updated = store.update(PODS, obj, status=True)
    assert updated["status"] == {"phase": "Running"} and "nodeName" not in updated["spec"]
    updated["status"] = {"phase": "Failed"}
    assert store.update(PODS, updated)["status"] == {"phase": "Running"}


def test_noop_update_writes_nothing(store: Store) -> None:
    obj = store.create(PODS, pod("a"))
    assert store.update(PODS, obj)["metadata"]["resourceVersion"] == \
        obj["metadata"]["resourceVersion"]


def test_unscheduled_pod_is_deleted_at_once(store: Store) -> None:
    store.create(PODS, pod("a"))
    assert store.delete(PODS, "default", "a") is None
    with pytest.raises(NotFound):
        store.get(PODS, "default", "a")


def test_bound_pod_is_deleted_gracefully_then_by_the_kubelet(store: Store) -> None:
    store.create(PODS, pod("a", node="n1"))
    left = store.delete(PODS, "default", "a")
    assert left and left["metadata"]["deletionTimestamp"]
    assert left["metadata"]["deletionGracePeriodSeconds"] == 30
    assert store.get(PODS, "default", "a")["metadata"]["deletionTimestamp"]
    assert store.delete(PODS, "default", "a", grace_period=0) is None
    with pytest.raises(NotFound):
        store.get(PODS, "default", "a")


def test_finalizers_hold_deletion_until_removed(store: Store) -> None:
    obj = {"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "c", "namespace": "default", "finalizers": ["x/y"]}}
    store.create(CMS, obj)
    left = store.delete(CMS, "default", "c")
    assert left is not None
    left["metadata"]["finalizers"] = []
    store.update(CMS, left)
    with pytest.raises(NotFound):
        store.get(CMS, "default", "c")
    kinds = [change.type for change in store.events_since(CMS, 0)[0]]
    assert kinds == ["ADDED", "MODIFIED", "DELETED"]


def test_list_filters_and_namespaces(store: Store) -> None:
    store.create(PODS, pod("a", app="web"))
    store.create(PODS, pod("b", app="db"))
    other = pod("c", app="web")
    other["metadata"]["namespace"] = "other"
    store.create(PODS, other)
    items, rv = store.list(PODS)
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert rv == store.resource_version()
    items, _ = store.list(PODS, "default", lambda o: o["metadata"]["labels"]["app"] == "web")
    assert [i["metadata"]["name"] for i in items] == ["a"]


def test_events_since_and_compaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", history=100)
    for i in range(600):
        store.create(CMS, {"kind": "ConfigMap", "apiVersion": "v1",
                           "metadata": {"name": f"c{i}", "namespace": "default"}})
    with pytest.raises(Gone):
        store.events_since(CMS, 1)
    recent, top = store.events_since(CMS, 590)
    assert [change.rv for change in recent] == list(range(591, 601)) and top == 600
    assert store.check() == []


def test_watch_waits_for_changes(store: Store) -> None:
    rv = store.resource_version()
    timer = threading.Timer(0.05, lambda: store.create(PODS, pod("late")))
    timer.start()
    assert store.wait_for_change(rv, 5.0)
    assert not store.wait_for_change(store.resource_version(), 0.01)


def test_concurrent_writers_get_unique_versions(store: Store) -> None:
    def write(prefix: str) -> None:
        for i in range(50):
            store.create(CMS, {"kind": "ConfigMap", "apiVersion": "v1",
                               "metadata": {"name": f"{prefix}{i}", "namespace": "default"}})
    threads = [threading.Thread(target=write, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items, rv = store.list(CMS)
    versions = {i["metadata"]["resourceVersion"] for i in items}
    assert len(items) == 200 and len(versions) == 200 and rv == 200
    assert store.check() == []


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    first = Store(tmp_path / "s.db")
    first.create(PODS, pod("a"))
    first.close()
    again = Store(tmp_path / "s.db")
    assert again.get(PODS, "default", "a")["metadata"]["resourceVersion"] == "1"
    assert again.create(PODS, pod("b"))["metadata"]["resourceVersion"] == "2"


def _cm(name: str, namespace: str = "default") -> dict[str, Any]:
    return {"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace}}


def _changes(store: Store, since: int, namespace: str | None = None, limit: int = 500
             ) -> tuple[list[tuple[int, str, str, Any, Any]], int]:
    changes, top = store.events_since(CMS, since, namespace, limit)
    return [(c.rv, c.type, c.namespace, c.obj, c.prev) for c in changes], top


def test_watch_cache_answers_as_the_event_log_does(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    for i in range(20):
        store.create(CMS, _cm(f"c{i}", "default" if i % 2 else "other"))
        store.create(PODS, pod(f"p{i}"))
    changed = store.get(CMS, "default", "c1")
    changed["data"] = {"k": "v"}
    store.update(CMS, changed)
    store.delete(CMS, "other", "c0")
    # A second Store on the same file has no cache for what came before it: its answers
    # come from SQLite, and must be the same as the first one's from memory.
    from_log = Store(tmp_path / "s.db")
    for since, namespace, limit in ((0, None, 500), (7, "default", 500), (0, "other", 4),
                                    (store.resource_version(), None, 500)):
        assert _changes(store, since, namespace, limit) == \
            _changes(from_log, since, namespace, limit)
    cached, top = _changes(store, 0, "other", 4)
    assert len(cached) == 4 and top == cached[-1][0]
    assert _changes(store, 0)[0][-1][1:3] == ("DELETED", "other")
    assert _changes(store, 0)[0][-2][4]["metadata"]["name"] == "c1"  # prev of the update


def test_watch_cache_falls_back_to_the_log_for_old_versions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kompy.cluster.store.watchcache.RECENT", 10)
    store = Store(tmp_path / "s.db")
    for i in range(30):
        store.create(CMS, _cm(f"c{i}"))
    changes, top = _changes(store, 5)
    assert [c[0] for c in changes] == list(range(6, 31)) and top == 30


def test_a_write_wakes_only_watchers_of_its_resource(store: Store) -> None:
    rv = store.resource_version()
    store.create(PODS, pod("a"))
    assert not store.wait_for_change(rv, 0.05, CMS.plural)
    assert store.wait_for_change(rv, 0.05, PODS.plural)
    timer = threading.Timer(0.05, lambda: store.create(CMS, _cm("late")))
    timer.start()
    assert store.wait_for_change(store.resource_version(), 5.0, CMS.plural)
