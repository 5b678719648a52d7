"""The sync helpers' lifecycle around in-place restarts: dropped before the restart (which
ends them), started again at once afterwards (warm), never twice for one container."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.dev import sync

TARGET = sync.Target("ns", "app=web", "web", True)


class FakeHelper:
    started: list[str] = []

    def __init__(self, client: Any, target: sync.Target, pod: str) -> None:
        self.pod = pod
        self.alive, self.unsupported, self.closed = True, False, False
        self.process = self
        FakeHelper.started.append(pod)

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def helpers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    FakeHelper.started = []
    monkeypatch.setattr(sync, "_Helper", FakeHelper)
    return FakeHelper.started


class Client:   # a key of the helpers' registry (weakly referenced): any object
    pass


def test_warm_starts_missing_helpers_once(helpers: list[str]) -> None:
    client = Client()
    sync.warm(client, TARGET, ["a", "b"])  # type: ignore[arg-type]
    sync.warm(client, TARGET, ["a", "b"])  # type: ignore[arg-type]
    assert sorted(helpers) == ["a", "b"]
    assert set(sync._helpers(client, TARGET, ["a", "b"])) == {"a", "b"}  # type: ignore[arg-type]
    assert sorted(helpers) == ["a", "b"]


def test_a_dropped_helper_is_closed_and_started_again_by_warm(helpers: list[str]) -> None:
    client = Client()
    first = sync._helpers(client, TARGET, ["a"])["a"]  # type: ignore[arg-type]
    sync.drop_helpers(client, TARGET, ["a"])  # type: ignore[arg-type]
    assert first.closed  # type: ignore[attr-defined]
    sync.warm(client, TARGET, ["a"])  # type: ignore[arg-type]
    assert helpers == ["a", "a"]
    assert sync._helpers(client, TARGET, ["a"])["a"] is not first  # type: ignore[arg-type]
