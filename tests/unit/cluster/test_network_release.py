"""A reset's network removal waits while the engine releases removed containers' endpoints,
and gives up on one it keeps for good without stopping the rest of the clean-up."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.cluster.kubelet.docker_backend import DockerBackend
from kompy.engine.connection import EngineError

ACTIVE = ("error while removing network: network kompy-c-default id 5f85 has active "
          "endpoints")


class Api:
    """The engine's network removal, refusing ``refusals`` times first."""

    def __init__(self, refusals: int, reason: str = ACTIVE) -> None:
        self.refusals = refusals
        self.reason = reason
        self.calls = 0

    def remove_network(self, net_id: str) -> None:
        self.calls += 1
        if self.calls <= self.refusals:
            raise EngineError(f"remove network: {self.reason}", reason=self.reason,
                              status=403)


def backend(api: Api) -> Any:
    made = DockerBackend.__new__(DockerBackend)
    made.api = api
    made._call = lambda what, fn: fn()  # type: ignore[method-assign]
    return made


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


NET = {"Id": "5f85", "Name": "kompy-c-default"}


def test_a_network_is_removed_once_the_engine_released_its_endpoints() -> None:
    api, clock = Api(refusals=4), Clock()
    assert backend(api)._remove_released_network(NET, 30.0, clock, clock.sleep) == ""
    assert api.calls == 5 and clock.now == 2.0


def test_an_endpoint_kept_for_good_is_given_up_on_after_the_wait() -> None:
    api, clock = Api(refusals=10**6), Clock()
    assert "active endpoints" in backend(api)._remove_released_network(NET, 30.0, clock,
                                                                        clock.sleep)
    assert 30.0 <= clock.now <= 30.5


def test_other_refusals_are_errors() -> None:
    api, clock = Api(refusals=1, reason="permission denied"), Clock()
    with pytest.raises(EngineError):
        backend(api)._remove_released_network(NET, 30.0, clock, clock.sleep)
