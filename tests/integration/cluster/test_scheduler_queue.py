"""The scheduling queue on the real engine: a pod that waits for room is bound as soon as a
pod on its node goes, not at the queue's 5-minute flush; and its FailedScheduling event is
one series, not one Event per attempt."""

from __future__ import annotations

import time
from typing import Any

import pytest
from clusterkit import container, events, pod, running, wait_for

from kompy.client.objects import pod_requests, pod_terminal
from kompy.client.quantity import milli_value

pytestmark = pytest.mark.integration

# Far below the 5-minute flush and above the 10 s longest back-off: a pod that is bound
# within this was moved by the deletion's event (or its back-off), not by the flush.
PROMPTLY = 30.0


def free_cpu(client: Any, node_name: str) -> int:
    """The node's allocatable CPU (millis) not requested by the pods bound to it."""
    node = client.get("nodes", node_name)
    used = sum(pod_requests(p)[0] for p in client.list("pods")["items"]
               if (p.get("spec") or {}).get("nodeName") == node_name and not pod_terminal(p))
    return milli_value(node["status"]["allocatable"]["cpu"]) - used


def test_a_pending_pod_is_bound_promptly_once_a_pod_frees_room(client: Any,
                                                                namespace: str) -> None:
    nodes = wait_for("a node", lambda: client.list("nodes")["items"])
    node_name = nodes[0]["metadata"]["name"]
    share = f"{free_cpu(client, node_name) * 6 // 10}m"     # two never fit together
    pinned = {"nodeSelector": {"kubernetes.io/hostname": node_name},
              "terminationGracePeriodSeconds": 0}
    client.create(pod("first", namespace, container(
        "c", "exec sleep 3600", resources={"requests": {"cpu": share}}), **pinned))
    running(client, "first", namespace)
    client.create(pod("second", namespace, container(
        "c", "exec sleep 3600", resources={"requests": {"cpu": share}}), **pinned))

    def refused() -> dict[str, Any] | None:
        for cond in client.get("pods", "second", namespace)["status"].get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                return dict(cond)
        return None

    cond = wait_for("the second pod refused", refused)
    assert cond["reason"] == "Unschedulable"
    assert cond["message"].startswith("0/") and "Insufficient cpu" in cond["message"]
    failed = wait_for("a FailedScheduling event", lambda: [
        e for e in events(client, namespace, "second") if e["reason"] == "FailedScheduling"])
    assert len(failed) == 1 and failed[0]["type"] == "Warning"

    client.delete("pods", "first", namespace)
    deleted = time.monotonic()
    bound = wait_for("the second pod bound after the first went", lambda: client.get(
        "pods", "second", namespace)["spec"].get("nodeName"), PROMPTLY)
    assert bound == node_name
    assert time.monotonic() - deleted < PROMPTLY
    running(client, "second", namespace)
    reasons = [e["reason"] for e in events(client, namespace, "second")]
    assert reasons.count("FailedScheduling") == 1 and "Scheduled" in reasons
