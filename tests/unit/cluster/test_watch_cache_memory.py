"""The watch cache's byte bound is a bound on the memory it holds: it keeps each change as
the event log's JSON text only, counts that text's memory, and a watch sends the text as it
is, the same bytes the parsed object would encode to."""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient, resources
from kompy.cluster.apiserver import handlers
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.apiserver.watchevents import WatchEvent
from kompy.cluster.store import watchcache
from kompy.cluster.store.sqlite import Store

CMS = resources.lookup("configmaps")
MIB = 1024 * 1024


def many_keys(name: str, keys: int = 500, value: int = 80) -> dict[str, Any]:
    """About 50 KiB of JSON in many small keys: parsed, far bigger than its JSON."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
            "data": {f"key-{k:04d}": f"{k:06d}" + "v" * value for k in range(keys)}}


def test_held_memory_stays_within_the_bound_for_objects_that_parse_big(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchcache, "CACHE_BYTES", 4 * MIB)
    store = Store(tmp_path / "s.db")
    for i in range(40):                       # warm up: the statement cache, the cache's dicts
        store.create(CMS, many_keys(f"warm{i}"))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for round_ in range(3):               # 3 x 200 objects of ~50 KiB: 30 MiB of JSON
            for i in range(200):
                obj = many_keys(f"c{i}")
                if round_:
                    obj["metadata"]["resourceVersion"] = store.get(
                        CMS, "default", f"c{i}")["metadata"]["resourceVersion"]
                    store.update(CMS, obj)
                else:
                    store.create(CMS, obj)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    held = store.sizes()["cache"]
    assert 3 * MIB < held <= 4 * MIB
    # The Python memory the burst left behind is the cache's, as it counts it (a little
    # beside it: the cache's deques and bookkeeping). Parsed objects took 3-4 times more.
    assert grown < held + MIB // 2, (grown, held)


def test_a_change_holds_text_and_parses_a_fresh_copy_on_demand(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    made = store.create(CMS, many_keys("a", keys=3))
    made["data"]["key-0000"] = "changed"
    store.update(CMS, made)
    changes, _ = store.events_since(CMS, 0)
    modified = changes[1]
    assert isinstance(modified.body, str) and isinstance(modified.prev_body, str)
    assert modified.obj["data"]["key-0000"] == "changed"
    assert modified.prev is not None and modified.prev["data"]["key-0000"] != "changed"
    copy = modified.obj
    copy["data"].clear()                       # a caller's change reaches no other watcher
    assert modified.obj["data"]["key-0000"] == "changed"


def test_a_stored_event_goes_on_the_wire_as_the_parsed_object_would() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "é \"q\"", "resourceVersion": "7"},
           "data": {"x": "<>&\n", "n": "1.5"}}
    text = json.dumps(obj, separators=(",", ":"))           # as the store writes it
    raw = WatchEvent("MODIFIED", text=text)
    assert raw.encode() == json.dumps({"type": "MODIFIED", "object": obj},
                                      separators=(",", ":")).encode()
    assert raw.as_dict() == {"type": "MODIFIED", "object": obj}
    bookmark = WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "9"}})
    assert json.loads(bookmark.encode()) == {"type": "BOOKMARK", "object": {
        "metadata": {"resourceVersion": "9"}}}


def test_a_watch_over_http_sends_stored_changes_then_a_bookmark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "BOOKMARK_SECONDS", 0.2)
    server = ApiServer(Store(tmp_path / "store.db"), "t").start()
    try:
        client = KubeClient.for_server(server.url, "t")
        made = client.create(many_keys("a", keys=3))
        made["data"]["key-0001"] = "é"
        changed = client.replace(made)
        seen = []
        for kind, obj in client.watch("configmaps", resource_version=made["metadata"][
                "resourceVersion"], timeout_seconds=1, bookmarks=True):
            seen.append((kind, obj))
            if kind == "BOOKMARK":
                break
    finally:
        server.stop()
    assert [kind for kind, _ in seen] == ["MODIFIED", "BOOKMARK"]
    assert seen[0][1] == changed
    assert seen[1][1]["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]
