"""Events expire (kube-apiserver's --event-ttl) and the store levels off (issue #12, the
soak: store.db grew 11 MiB an hour in the first hour, while no Event was old enough to go)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kompy.client import resources
from kompy.cluster.apiserver.handlers import Api, Route
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.maintenance import Maintenance
from kompy.cluster.store.sqlite import Store

EVENTS = resources.lookup("events")
START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def event(name: str, last: datetime, message_bytes: int = 100) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "a", "namespace": "default"},
            "reason": "Test", "type": "Normal", "message": "m" * message_bytes,
            "lastTimestamp": last.strftime("%Y-%m-%dT%H:%M:%SZ")}


def create(api: Api, obj: dict[str, Any]) -> None:
    api.create(Route(EVENTS, "default", None, None), obj)


def names(api: Api) -> list[str]:
    return sorted(e["metadata"]["name"] for e in api.store.list(EVENTS)[0])


def test_events_older_than_the_ttl_are_deleted_and_the_rest_kept(tmp_path: Path) -> None:
    api = Api(Store(tmp_path / "s.db"))
    api.event_ttl = 600
    create(api, event("old", START - 11 * MINUTE))
    create(api, event("edge", START - 9 * MINUTE))
    create(api, event("new", START))
    assert api.expire_events(now=START) == 1
    assert names(api) == ["edge", "new"]
    assert api.expire_events(now=START + 2 * MINUTE) == 1
    assert names(api) == ["new"]


def test_an_idle_cluster_expires_its_events_on_the_maintenance_pass(tmp_path: Path) -> None:
    """Before: only the creation of another Event swept old ones, so a cluster that went
    quiet kept its last hour of Events for ever."""
    server = ApiServer(Store(tmp_path / "s.db"), "token")
    now = datetime.now(UTC)
    create(server.api, event("stale", now - timedelta(hours=2)))
    create(server.api, event("fresh", now))
    try:
        server.maintenance.run_once()
    finally:
        server.httpd.server_close()
    assert names(server.api) == ["fresh"]


def test_with_events_expiring_the_store_file_levels_off(tmp_path: Path) -> None:
    """Hours of a steady Event rate (simulated minutes: each creates Events, then one
    maintenance pass runs, as the daemon's timer does every minute). Once the first Events
    expire, the Events kept and the file stop growing: deleted Events' pages are reused, the
    event log is compacted after 5 minutes, the WAL is truncated on each pass."""
    store = Store(tmp_path / "s.db")
    api = Api(store)
    api.event_ttl = 10 * 60
    clock = {"now": START}
    maintenance = Maintenance(store, compaction_seconds=300,
                              chores=[lambda: api.expire_events(now=clock["now"])])
    per_minute, sizes, kept = 10, [], []
    for minute in range(50):
        clock["now"] = START + minute * MINUTE
        for i in range(per_minute):
            create(api, event(f"e{minute}-{i}", clock["now"], message_bytes=1500))
        maintenance.run_once(now=minute * 60.0)
        if minute % 10 == 9:      # the end of each TTL period
            sizes.append(store.sizes()["db"] + store.sizes()["wal"])
            kept.append(len(names(api)))
    # The first 10 minutes, then 11 minutes of Events: one exactly as old as the TTL stays.
    assert kept == [10 * per_minute] + [11 * per_minute] * 4
    # The first period fills; from the second on (the event log holds its 5 minutes, the
    # freed pages are reused) the file stays within 10 %: 728, 1020, 1024, 1024, 1024 KiB.
    steady = sizes[1:]
    assert max(steady) <= 1.1 * min(steady), f"{[s // 1024 for s in sizes]} KiB"
    assert store.check() == []


def test_the_sweep_does_not_hold_every_event_in_memory(tmp_path: Path) -> None:
    """Before: each minute's sweep parsed all the Events kept (an hour of them) into one
    list; its peak, every minute, grew with them, and so did the daemon's RSS (+34-44 MiB
    an hour in the soak). Now SQLite reads the time stamps: the peak is that of the few
    expired, whatever the number kept."""
    store = Store(tmp_path / "s.db")
    api = Api(store)
    for i in range(2000):
        store.create(EVENTS, event(f"fresh{i}", START, message_bytes=500))
    for i in range(5):
        store.create(EVENTS, event(f"stale{i}", START - 2 * timedelta(hours=1)))
    tracemalloc.start()
    try:
        expired = api.expire_events(now=START)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert expired == 5 and len(names(api)) == 2000
    # The 2000 Events parsed take about 6 MiB.
    assert peak < 512 * 1024, f"{peak / 1024:.0f} KiB at the peak"
