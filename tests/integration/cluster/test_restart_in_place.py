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
    # Counted as upstream's kubelet counts a container killed and started again: one
    # restart, and the run it ended (trap: exit 0 on SIGTERM) as lastState.
    status = wait_for("the restart counted", lambda: (
        st := running(client, "p", namespace)["status"]["containerStatuses"][0]).get(
        "restartCount") == 1 and st, 30)
    ended = status["lastState"]["terminated"]
    assert (ended["exitCode"], ended["reason"], ended["containerID"]) == (
        0, "Completed", f"docker://{cid}")
    assert ended["startedAt"] == started[:19] + "Z" and ended["finishedAt"] >= started[:19]
    wait_for("the Killing event", lambda: any(
        e.get("reason") == "Killing" and e["message"] ==
        "Container c restart requested by kompy dev, will be restarted"
        for e in events(client, namespace, "p")), 10)


def test_a_deaf_restart_in_place_holds_no_sync_worker(client: Any, namespace: str) -> None:
    """``exec sleep`` as PID 1 ignores SIGTERM: each restart waits out its grace period on
    the kubelet's stopper, so a pod created meanwhile starts at once, although every one
    of the kubelet's eight sync workers would have held such a restart."""
    names = [f"deaf-{i}" for i in range(8)]
    for name in names:
        client.create(pod(name, namespace, container("c", "exec sleep 3600"),
                          terminationGracePeriodSeconds=10))
    first: dict[str, tuple[str, str]] = {}
    for name in names:
        running(client, name, namespace, timeout=180)
        first[name] = _started(client, name, namespace)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for name in names:
        client.patch("pods", name, namespace, {"metadata": {"annotations": {
            RESTART_ANNOTATION: now}}})
    client.create(pod("plain", namespace, container("c", "exec sleep 3600")))
    running(client, "plain", namespace, timeout=60)
    again = [n for n in names if _started(client, n, namespace)[1] != first[n][1]]
    assert again == [], "the new pod waited for the restarts' grace periods"
    for name in names:
        def again_started(n: str = name) -> bool:
            return _started(client, n, namespace)[1] != first[n][1]

        wait_for(f"{name} started again", again_started, 60)
        assert _started(client, name, namespace)[0] == first[name][0]  # in place
