"""EventRecorder: repeated events bump the count of one Event; the series it remembers are
bounded as client-go's correlator cache (an LRU of 4096), each a name and a count, not the
whole Event (a soak of pods coming and going grew the daemon's memory with every event)."""

from __future__ import annotations

from typing import Any

from kompy.client import events
from kompy.client.events import EventRecorder


class RecordingClient:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.created.append(obj)
        # What the server answers: the object with much more in it.
        return {**obj, "metadata": {**obj["metadata"], "uid": "u", "resourceVersion": "1",
                                    "managedFields": [{"x": "y" * 500}]}}

    def patch(self, resource: str, name: str, namespace: str | None,
              patch: dict[str, Any]) -> dict[str, Any]:
        self.patched.append((name, patch))
        return {}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"}}


def test_a_repeated_event_bumps_the_count_of_one_event() -> None:
    client = RecordingClient()
    recorder = EventRecorder(client, "kubelet")  # type: ignore[arg-type]
    for _ in range(3):
        recorder.warning(pod("web"), "BackOff", "Back-off restarting failed container")
    recorder.flush()
    assert len(client.created) == 1
    name = client.created[0]["metadata"]["name"]
    assert [(n, p["count"]) for n, p in client.patched] == [(name, 2), (name, 3)]


def test_occurrences_counted_by_the_caller_add_to_the_count() -> None:
    client = RecordingClient()
    recorder = EventRecorder(client, "default-scheduler")  # type: ignore[arg-type]
    recorder.warning(pod("web"), "FailedScheduling", "0/1 nodes are available", times=2)
    recorder.warning(pod("web"), "FailedScheduling", "0/1 nodes are available", times=5)
    recorder.flush()
    assert client.created[0]["count"] == 2
    assert [p["count"] for _, p in client.patched] == [7]


def test_the_series_remembered_are_bounded_and_small(monkeypatch: Any) -> None:
    monkeypatch.setattr(events, "SERIES_REMEMBERED", 100)
    client = RecordingClient()
    recorder = EventRecorder(client, "kubelet")  # type: ignore[arg-type]
    for i in range(150):
        recorder.normal(pod(f"p{i}"), "Scheduled", "assigned")
    recorder.normal(pod("p149"), "Scheduled", "assigned")   # recent: its count goes up
    recorder.normal(pod("p0"), "Scheduled", "assigned")     # forgotten: a new Event
    recorder.flush()
    assert len(recorder._seen) == 100
    assert all(isinstance(v, tuple) and len(v) == 2 for v in recorder._seen.values())
    assert [p["count"] for _, p in client.patched] == [2]
    assert len(client.created) == 151
