"""The Docker engine goes away and comes back (a Docker restart): while it is gone, a pod's
sync fails with one line in the log (no traceback), an event and a waiting reason, backing
off; once it answers again every pod is looked at at once and comes back, its containers
having died with the engine."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kompy.cluster.kubelet.backend import LABEL_POD


def pod(name: str, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "app", "image": "kompy/busybox:1", **container}]}}


LIVENESS = {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 1}


def events(cluster: Any, name: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in cluster.client.list("events", "default")["items"]
            if e["reason"] == reason and e["involvedObject"]["name"] == name]


def restarts(cluster: Any, name: str) -> int:
    return int(cluster.status_of(name, "app").get("restartCount", -1))


def test_the_kubelet_rides_out_a_docker_restart(fake_node: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    cluster = fake_node.start()
    cluster.client.create(pod("a"))
    cluster.client.create(pod("b", livenessProbe=LIVENESS))
    for name in ("a", "b"):
        cluster.wait(f"{name} Ready", lambda name=name: cluster.ready(name))
    backend = fake_node.backend
    with caplog.at_level(logging.DEBUG, logger="kompy"):
        backend.outage()
        cluster.client.create(pod("c"))  # arrives while the engine is gone
        waiting = cluster.wait("c's waiting reason", lambda: (
            cluster.status_of("c", "app").get("state") or {}).get("waiting"))
        assert waiting["reason"] == "CreateContainerError"
        assert "Docker engine connection failed" in waiting["message"]
        # Twice: the retry came after a back-off, and a liveness probe period went by.
        cluster.wait("two failed syncs of c", lambda: [
            e for e in events(cluster, "c", "FailedSync") if e.get("count", 1) >= 2])
        backend.recover()
        for name in ("a", "b"):
            cluster.wait(f"{name} back, restarted once", lambda name=name: (
                restarts(cluster, name) == 1 and cluster.ready(name)), timeout=10)
        cluster.wait("c Running", lambda: cluster.ready("c"), timeout=10)
    # b's exec probes failed with the engine: not held against it (no Unhealthy, no kill).
    assert events(cluster, "b", "Unhealthy") == [] and events(cluster, "b", "Killing") == []
    # One running container per pod, the dead ones kept for `logs --previous`.
    for name in ("a", "b", "c"):
        assert len(backend.running(**{LABEL_POD: name})) == 1
    noisy = [r for r in caplog.records if r.exc_info or "\n" in r.getMessage()]
    assert noisy == []


def test_a_lost_connection_is_said_in_a_few_words() -> None:
    import http.client

    import requests
    import urllib3

    from kompy.engine.connection import EngineError, call, stream

    refused = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionRefusedError(111, "Connection refused")))

    def fail() -> None:
        raise refused

    with pytest.raises(EngineError) as error:
        call("create container web", fail)
    assert error.value.message == ("create container web: Docker engine connection failed: "
                                   "Connection refused")

    def broken() -> Any:
        yield {"status": "die"}
        raise urllib3.exceptions.ProtocolError(
            "Connection broken: IncompleteRead(0 bytes read)", http.client.IncompleteRead(b""))

    # urllib3's ProtocolError is no OSError: a stream cut mid-answer is an EngineError too.
    items = stream("events", broken())
    assert next(items) == {"status": "die"}
    with pytest.raises(EngineError, match="events: Docker engine connection failed: "
                                          "Connection broken: IncompleteRead"):
        next(items)
