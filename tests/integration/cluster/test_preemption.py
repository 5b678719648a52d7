"""Pod priority and preemption on the real Docker engine, driven by stock kubectl as a user
would on any cluster: ``kubectl get priorityclass`` shows the built-in classes, ``kubectl
create priorityclass`` makes one; a low-priority Deployment fills the node's CPU; a
high-priority pod is nominated, one filler is evicted (``Preempted`` in ``kubectl get
events``), the pod runs, and ``kubectl describe`` shows its priority; the evicted filler's
replacement waits, saying that no victim is left for it; a pod naming no class that exists
is refused with kube-apiserver's message."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, kubectl_runner, wait_for

from kompy.client.objects import pod_requests, pod_terminal
from kompy.client.quantity import milli_value

pytestmark = pytest.mark.integration

SDK = Path("/usr/lib/google-cloud-sdk/bin")
VERSION = "1.33"


def free_cpu(client: Any, node_name: str) -> int:
    """The node's allocatable CPU (millis) not requested by the pods bound to it."""
    node = client.get("nodes", node_name)
    used = sum(pod_requests(p)[0] for p in client.list("pods")["items"]
               if (p.get("spec") or {}).get("nodeName") == node_name and not pod_terminal(p))
    return milli_value(node["status"]["allocatable"]["cpu"]) - used


def manifests(tag: str, node: str, filler_cpu: int, urgent_cpu: int) -> tuple[str, str]:
    pinned = {"nodeSelector": {"kubernetes.io/hostname": node},
              "terminationGracePeriodSeconds": 1}

    def container(cpu: int) -> dict[str, Any]:
        return {"name": "c", "image": BUSYBOX, "command": ["sleep", "3600"],
                "resources": {"requests": {"cpu": f"{cpu}m"}}}

    first = [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": f"high-{tag}"}, "value": 1000},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "filler"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "filler"}},
                  "template": {"metadata": {"labels": {"app": "filler"}},
                               "spec": {**pinned, "priorityClassName": f"low-{tag}",
                                        "containers": [container(filler_cpu)]}}}}]
    urgent = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "urgent"},
              "spec": {**pinned, "priorityClassName": f"high-{tag}",
                       "containers": [container(urgent_cpu)]}}
    return (json.dumps({"apiVersion": "v1", "kind": "List", "items": first}),
            json.dumps(urgent))


def test_a_high_priority_pod_preempts_through_stock_kubectl(
        cluster: dict[str, Any], client: Any, namespace: str, tmp_path: Path) -> None:
    binary = SDK / f"kubectl.{VERSION}"
    if not binary.exists():
        pytest.skip(f"kubectl {VERSION} is not installed")
    kubectl = kubectl_runner(binary, cluster, namespace, tmp_path)

    out = kubectl("get", "priorityclass")
    assert re.search(r"^NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\s+PREEMPTIONPOLICY$", out, re.M)
    assert re.search(r"^system-node-critical\s+2000001000\s+false\s+\S+\s+"
                     r"PreemptLowerPriority$", out, re.M)

    node = wait_for("a node", lambda: client.list("nodes")["items"])[0]["metadata"]["name"]
    free = free_cpu(client, node)
    tag = uuid.uuid4().hex[:6]
    setup, urgent = manifests(tag, node, free * 45 // 100, free * 30 // 100)
    try:
        # kubectl 1.33 sends this one as protobuf.
        kubectl("create", "priorityclass", f"low-{tag}", "--value=-10", "--description=batch")
        kubectl("apply", "-f", "-", stdin=setup)

        def fillers() -> list[dict[str, Any]]:
            return [p for p in client.list("pods", namespace)["items"]
                    if p["metadata"]["name"].startswith("filler-")]

        wait_for("both fillers running", lambda: len([
            p for p in fillers() if p["status"].get("phase") == "Running"]) == 2, 120)
        before = {p["metadata"]["name"] for p in fillers()}
        assert {p["spec"]["priority"] for p in fillers()} == {-10}

        out = kubectl("run", "stray", f"--image={BUSYBOX}", "--overrides",
                      json.dumps({"spec": {"priorityClassName": "no-such-class"}}), code=1)
        assert 'pods "stray" is forbidden: no PriorityClass with name no-such-class was ' \
               "found" in out

        kubectl("apply", "-f", "-", stdin=urgent)
        wait_for("urgent running", lambda: client.get("pods", "urgent", namespace)[
            "status"].get("phase") == "Running", 120)

        pod = client.get("pods", "urgent", namespace)

        def preempted() -> list[str]:
            text = kubectl("get", "events", "--sort-by=.lastTimestamp")
            return [n for n in before if re.search(
                rf"Normal\s+Preempted\s+pod/{n}\s+Preempted by pod {pod['metadata']['uid']} "
                rf"on node {node}", text)]

        assert len(wait_for("the Preempted event", preempted, describe=lambda: kubectl(
            "get", "events"))) == 1
        events = kubectl("get", "events", "--sort-by=.lastTimestamp")
        assert re.search(r"Warning\s+FailedScheduling\s+pod/urgent\s+0/\d+ nodes are "
                         r"available: .*Insufficient cpu", events), events

        out = kubectl("describe", "pod", "urgent")
        assert re.search(r"^Priority:\s+1000$", out, re.M), out
        assert re.search(rf"^Priority Class Name:\s+high-{tag}$", out, re.M), out
        assert re.search(r"Normal\s+Scheduled\s+.*Successfully assigned", out), out

        out = kubectl("get", "pod", "urgent", "-o", "wide")
        assert re.search(r"\sNOMINATED NODE\s+READINESS GATES$", out.splitlines()[0]), out
        assert re.search(rf"\s{node}\s+(\S+)\s+<none>$", out.splitlines()[1]), out

        # The evicted filler comes back (its ReplicaSet) and waits: nothing lower is left.
        def replacement_refused() -> str:
            text = kubectl("get", "events", "--field-selector", "reason=FailedScheduling")
            fresh = [p["metadata"]["name"] for p in fillers()
                     if p["metadata"]["name"] not in before]
            return next((line for line in text.splitlines() for name in fresh
                         if f"pod/{name}" in line), "")

        line = wait_for("the replacement refused", replacement_refused, 60)
        assert "No preemption victims found for incoming pod." in line, line
    finally:
        kubectl("delete", "deployment", "filler", "--ignore-not-found")
        kubectl("delete", "priorityclass", f"low-{tag}", f"high-{tag}", "--ignore-not-found")
