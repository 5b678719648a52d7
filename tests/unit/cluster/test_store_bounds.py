"""The store stays bounded (issue #12, item 4): big objects are refused, the event log is
compacted as etcd's is, and the file and its WAL shrink back after big objects go."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.client import resources
from kompy.client.errors import ApiError, Gone
from kompy.cluster.store import watchcache
from kompy.cluster.store.maintenance import Maintenance
from kompy.cluster.store.sqlite import MAX_OBJECT_BYTES, Store

CMS = resources.lookup("configmaps")
MIB = 1024 * 1024


def configmap(name: str, size: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"k": "x" * size}}


def on_disk(store: Store) -> int:
    sizes = store.sizes()
    return sizes["db"] + sizes["wal"]


def test_an_object_over_etcds_limit_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with pytest.raises(ApiError) as info:
        store.create(CMS, configmap("big", 50 * MIB))
    assert info.value.status == 413 and info.value.reason == "RequestEntityTooLarge"
    store.create(CMS, configmap("fits", MAX_OBJECT_BYTES - 1000))
    # Non-ASCII text counts as its UTF-8 bytes (the store's JSON escapes it as \\uXXXX).
    store.create(CMS, configmap("accents", 0) | {"data": {"k": "é" * 600_000}})
    assert store.check() == [] and store.resource_version() == 2


def test_200_mb_of_objects_come_and_go_and_the_files_shrink_back(tmp_path: Path) -> None:
    """Before: store.db 130 MB with 59 MB free, the WAL 108 MB, never shrinking."""
    store = Store(tmp_path / "s.db")
    maintenance = Maintenance(store, compaction_seconds=0)
    for i in range(10):
        store.create(CMS, configmap(f"small{i}", 100))
    maintenance.run_once()
    start = on_disk(store)
    peak = 0
    for i in range(200):
        store.create(CMS, configmap(f"big{i}", MIB))
        if i % 20 == 19:
            peak = max(peak, on_disk(store))
    for i in range(200):
        store.delete(CMS, "default", f"big{i}")
    # The event log's byte budget holds while the objects come and go...
    assert store.sizes()["log"] <= store.log_bytes
    assert peak < 400 * MIB, f"{peak / MIB:.0f} MiB on disk at the peak"
    # ... and after one pass of maintenance (compaction, checkpoint, vacuum) the files are
    # back near their start.
    maintenance.run_once()
    after = on_disk(store)
    assert after <= start + 2 * MIB, f"{start / MIB:.1f} MiB before, {after / MIB:.1f} after"
    assert store.sizes()["wal"] == 0
    assert store.check() == []
    assert len(store.list(CMS)[0]) == 10


def test_a_watch_from_a_compacted_version_is_gone(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.create(CMS, configmap("a", 10))
    old = store.resource_version()
    store.create(CMS, configmap("b", 10))
    Maintenance(store, compaction_seconds=0).run_once()
    with pytest.raises(Gone, match="too old resource version"):
        store.events_since(CMS, old - 1)
    assert store.events_since(CMS, store.resource_version())[0] == []


def test_compaction_keeps_the_time_window(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    maintenance = Maintenance(store, compaction_seconds=300)
    store.create(CMS, configmap("a", 10))
    maintenance.run_once(now=1000.0)           # notes version 1
    store.create(CMS, configmap("b", 10))
    maintenance.run_once(now=1200.0)           # 200 s later: nothing is old enough yet
    assert store.compacted() == 0
    maintenance.run_once(now=1300.0)           # 300 s after the first note: up to it
    assert store.compacted() == 1
    assert [c.obj["metadata"]["name"] for c in store.events_since(CMS, 1)[0]] == ["b"]


def test_the_event_log_byte_budget(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", log_bytes=4 * MIB)
    for i in range(40):
        store.create(CMS, configmap(f"c{i}", 200_000))
    assert store.sizes()["log"] <= 4 * MIB
    assert store.compacted() > 0
    with pytest.raises(Gone):
        store.events_since(CMS, 1)
    # Reopened, the store counts its log again and keeps the budget.
    store.close()
    again = Store(tmp_path / "s.db", log_bytes=2 * MIB)
    assert again.sizes()["log"] <= 2 * MIB and again.check() == []


def test_the_watch_cache_is_bounded_in_bytes(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchcache, "CACHE_BYTES", 2 * MIB)
    store = Store(tmp_path / "s.db")
    for i in range(30):
        store.create(CMS, configmap(f"c{i}", 200_000))
    assert store.sizes()["cache"] <= 2 * MIB
    # What fell out of the cache is read from the event log, the same answer.
    assert [c.rv for c in store.events_since(CMS, 0)[0]] == list(range(1, 31))


def test_an_old_store_is_converted_to_incremental_vacuum(tmp_path: Path) -> None:
    import sqlite3
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript("CREATE TABLE objects (resource TEXT NOT NULL, namespace TEXT NOT NULL, "
                      "name TEXT NOT NULL, rv INTEGER NOT NULL, body TEXT NOT NULL, "
                      "PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;"
                      "CREATE TABLE events (rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, "
                      "namespace TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);"
                      "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                      "INSERT INTO meta VALUES ('rv', 0), ('compacted', 0);")
    old.close()
    store = Store(path)
    assert store._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    store.create(CMS, configmap("a", 10))
    assert store.check() == []
