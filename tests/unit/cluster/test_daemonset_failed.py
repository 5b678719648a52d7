"""A DaemonSet's pods that ended, against the API server and the DaemonSet controller alone
(no kubelet: the test writes the pods' phases, as a kubelet rejecting them would).

Upstream (pkg/controller/daemon podsShouldBeOnNode) deletes a failed daemon pod, so that a
new one is made, but within failedPodsBackoff: per DaemonSet and node, 1 s doubling to
15 minutes, each deletion a Warning ``FailedDaemonPod`` "Found failed daemon pod <ns>/<name>
on node <node>, will try to kill it". A succeeded one goes at once (``SucceededDaemonPod``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.loopback import attach
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.controllers.daemonset import DaemonSetController

TOKEN = "t"
NODE = "n1"


@pytest.fixture
def client(server: ApiServer) -> Iterator[KubeClient]:
    api = attach(KubeClient.for_server(server.url, TOKEN), server.router)
    stop = threading.Event()
    informers = Informers(api, stop)
    controller = DaemonSetController(api, informers,
                                     EventRecorder(api, "daemonset-controller"))
    api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    informers.start()
    controller.start()
    try:
        yield api
    finally:
        stop.set()
        controller.join(2.0)   # the informers' watches end with the server


def agent() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "app", "image": "kompy/busybox:1"}]}}}}


def wait(what: str, probe: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def pods(client: KubeClient) -> list[dict[str, Any]]:
    return list(client.list("pods", "default", label_selector="app=agent")["items"])


def end(client: KubeClient, pod: dict[str, Any], phase: str) -> None:
    client.replace_status({**pod, "status": {"phase": phase}})


def events(client: KubeClient, reason: str) -> list[dict[str, Any]]:
    return [e for e in client.list("events", "default")["items"]
            if e.get("reason") == reason and e["involvedObject"]["kind"] == "DaemonSet"]


def test_failed_daemon_pods_go_within_a_doubling_back_off(client: KubeClient) -> None:
    client.create(agent())
    gone_at: list[float] = []
    names: list[str] = []
    most = 0   # the most pods the node held at once
    for _ in range(3):
        pod = wait("a daemon pod", lambda: [p for p in pods(client)
                                            if p["metadata"]["name"] not in names])[0]
        names.append(pod["metadata"]["name"])
        end(client, pod, "Failed")

        def gone(name: str = names[-1]) -> bool:
            nonlocal most
            now = pods(client)
            most = max(most, len(now))
            return all(p["metadata"]["name"] != name for p in now)

        wait(f"{names[-1]} deleted", gone)
        gone_at.append(time.monotonic())
    # The first failure goes at once; then the node's back-off holds each failed pod for
    # 1 s, then 2 s, counted from the previous deletion (the old controller deleted each
    # one at once, and made the next: a hot loop against a kubelet that rejects pods).
    assert gone_at[1] - gone_at[0] >= 0.9
    assert gone_at[2] - gone_at[1] >= 1.9
    assert most == 1   # no surge: the node got its new pod only once the failed one went
    warned = wait("an event per deletion", lambda: len(
        found := events(client, "FailedDaemonPod")) == len(names) and found)
    assert [e["type"] for e in warned] == ["Warning"] * len(names)
    assert sorted(e["message"] for e in warned) == sorted(
        f"Found failed daemon pod default/{n} on node {NODE}, will try to kill it"
        for n in names)


def test_a_succeeded_daemon_pod_goes_at_once(client: KubeClient) -> None:
    client.create(agent())
    pod = wait("a daemon pod", lambda: pods(client))[0]
    end(client, pod, "Succeeded")
    wait("a new daemon pod", lambda: [p for p in pods(client)
                                      if p["metadata"]["uid"] != pod["metadata"]["uid"]])
    said = wait("the event", lambda: events(client, "SucceededDaemonPod"))
    assert (said[0]["type"], said[0]["message"]) == (
        "Normal", f"Found succeeded daemon pod default/{pod['metadata']['name']} on node "
                  f"{NODE}, will try to delete it")


def ready(client: KubeClient, pod: dict[str, Any]) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    client.replace_status({**pod, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": stamp}]}})


def status(client: KubeClient) -> dict[str, Any]:
    return dict(client.get("daemonsets", "agent", "default").get("status") or {})


COUNTS = ("currentNumberScheduled", "numberReady", "numberAvailable",
          "updatedNumberScheduled", "numberMisscheduled", "numberUnavailable")


def test_a_pod_being_deleted_counts_until_it_is_gone_unless_it_ended(
        client: KubeClient) -> None:
    """updateDaemonSetStatus counts every pod of a node but those that ended and are being
    deleted (getNodesToDaemonPods, includeDeletedTerminal false): a Ready pod in its grace
    period is still the node's pod (scheduled, ready, available, updated), and the node gets
    no new one until it is gone; a failed pod that a finalizer keeps is not counted."""
    client.create(agent())
    first = wait("a daemon pod", lambda: pods(client))[0]
    ready(client, first)
    expected = dict(zip(COUNTS, (1, 1, 1, 1, 0, 0), strict=True))
    wait("the pod counted", lambda: all(status(client).get(k) == v
                                        for k, v in expected.items()))
    client.delete("pods", first["metadata"]["name"], "default")   # 30 s of grace: no kubelet
    deleting = client.get("pods", first["metadata"]["name"], "default")
    assert deleting["metadata"].get("deletionTimestamp")
    # A new generation (not a new template): once it is observed, a sync ran since.
    generation = client.patch("daemonsets", "agent", "default", {"spec": {
        "minReadySeconds": 1}})["metadata"]["generation"]
    wait("a sync since the deletion", lambda: status(client).get(
        "observedGeneration") == generation)
    assert [p["metadata"]["name"] for p in pods(client)] == [first["metadata"]["name"]]
    assert {k: status(client).get(k) for k in COUNTS} == expected

    client.delete("pods", first["metadata"]["name"], "default", grace_period_seconds=0)
    second = wait("a new daemon pod", lambda: pods(client))[0]
    second = client.patch("pods", second["metadata"]["name"], "default",
                          {"metadata": {"finalizers": ["example.com/hold"]}})
    end(client, second, "Failed")
    third = wait("the failed pod replaced", lambda: [
        p for p in pods(client) if p["metadata"]["name"] != second["metadata"]["name"]])[0]
    held = client.get("pods", second["metadata"]["name"], "default")
    assert held["metadata"].get("deletionTimestamp")   # kept by its finalizer
    ready(client, third)
    wait("only the new pod counted", lambda: all(status(client).get(k) == v
                                                 for k, v in expected.items()))
    client.patch("pods", second["metadata"]["name"], "default",
                 {"metadata": {"finalizers": None}})
