"""``kompy dev``'s in-place restart: the same container starts again, keeping synced files."""

from __future__ import annotations

import datetime as dt
import subprocess
from typing import Any

import pytest
from clusterkit import container, events, pod, running, sh, wait_for

from kompy.client.wellknown import RESTART_ANNOTATION

pytestmark = pytest.mark.integration


def _started(client: Any, name: str, ns: str) -> tuple[str, str]:
    status = client.get("pods", name, ns)["status"]["containerStatuses"][0]
    cid = str(status["containerID"]).removeprefix("docker://")
    started = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", cid],
                             check=True, capture_output=True, text=True).stdout.strip()
    return cid, started


def test_a_restart_request_restarts_the_same_container_once(client: Any, namespace: str
                                                             ) -> None:
    # The marker file lives in the container's writable layer, as a synced file does.
    client.create(pod("p", namespace, container("c", "trap 'exit 0' TERM; "
                                                     "while true; do sleep 0.2; done")))
    running(client, "p", namespace)
    sh(client, "p", namespace, "echo synced > /tmp/marker")
    cid, started = _started(client, "p", namespace)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client.patch("pods", "p", namespace, {"metadata": {"annotations": {
        RESTART_ANNOTATION: now}}})
    wait_for("the container started again",
             lambda: _started(client, "p", namespace)[1] != started, 30)
    assert _started(client, "p", namespace)[0] == cid  # the same container, not a new one
    assert sh(client, "p", namespace, "cat /tmp/marker").strip() == "synced"
    status = running(client, "p", namespace)["status"]["containerStatuses"][0]
    assert status["restartCount"] == 0  # asked for, not a failure
    wait_for("a Restarted event", lambda: any(
        e.get("reason") == "Restarted" for e in events(client, namespace, "p")), 10)
