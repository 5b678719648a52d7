"""Three nodes on the real Docker engine, driven by stock kubectl: a pod with a
nodeSelector lands on the labelled node; ``kubectl drain`` (the Eviction API, as kubectl
1.33 sends it) moves a Deployment's pods while honouring its PodDisruptionBudget; a killed
node goes NotReady and its pods are rescheduled elsewhere after their toleration."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, docker_ok, wait_for

pytestmark = pytest.mark.integration

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
LEASE_SECONDS = 4


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    home = tmp_path_factory.mktemp("kompy-nodes")
    name = f"n{uuid.uuid4().hex[:8]}"
    (home / name).mkdir()
    (home / name / "kubelet.yaml").write_text(
        f"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        f"nodeLeaseDurationSeconds: {LEASE_SECONDS}\n")
    env = {**os.environ, "KOMPY_HOME": str(home), "KOMPY_CLUSTER": name,
           "KOMPY_INGRESS_PORTS": "off", "HOME": str(home),
           "KUBECONFIG": str(home / name / "kubeconfig")}
    started = subprocess.run([sys.executable, "-m", "kompy", "cluster", "start", "--nodes",
                              "3"], env=env, capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "node 'kompy-m02' added" in started.stdout
        yield {"env": env, "name": name}
    finally:
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True, text=True, timeout=180)


def kubectl(nodes: dict[str, Any], *args: str, timeout: float = 60,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = str(KUBECTL) if KUBECTL.exists() else "kubectl"
    done = subprocess.run([binary, *args], env=nodes["env"], capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def json_of(nodes: dict[str, Any], *args: str) -> Any:
    import json
    return json.loads(kubectl(nodes, *args, "-o", "json").stdout)


def placed(nodes: dict[str, Any], app: str) -> dict[str, list[str]]:
    """node -> the app's pods on it that are not deleting ("" for pending ones)."""
    out: dict[str, list[str]] = {}
    for p in json_of(nodes, "get", "pods", "-l", f"app={app}")["items"]:
        if not p["metadata"].get("deletionTimestamp"):
            out.setdefault(p["spec"].get("nodeName") or "", []).append(p["metadata"]["name"])
    return out


def ready_nodes(nodes: dict[str, Any]) -> dict[str, str]:
    return {n["metadata"]["name"]: next(c["status"] for c in n["status"]["conditions"]
                                        if c["type"] == "Ready")
            for n in json_of(nodes, "get", "nodes")["items"]
            if (n.get("status") or {}).get("conditions")}


def apply(nodes: dict[str, Any], manifest: str) -> None:
    done = subprocess.run([str(KUBECTL) if KUBECTL.exists() else "kubectl", "apply", "-f",
                           "-"], input=manifest, env=nodes["env"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


WEB = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {{disk: ssd}}
      tolerations:
      - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute,
          tolerationSeconds: 2}}
      containers:
      - name: app
        image: {BUSYBOX}
        command: [sh, -c, "touch /tmp/ready; exec sleep 3600"]
        readinessProbe:
          exec: {{command: [cat, /tmp/ready]}}
          periodSeconds: 1
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web}}
spec:
  minAvailable: 1
  selector: {{matchLabels: {{app: web}}}}
"""


MIN_READY = 4
AGENT = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  minReadySeconds: {MIN_READY}
  selector: {{matchLabels: {{app: agent}}}}
  updateStrategy: {{type: RollingUpdate, rollingUpdate: {{maxUnavailable: 1}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {BUSYBOX}
        env: [{{name: ROUND, value: "1"}}]
        command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
"""


def _ready_for(pod: dict[str, Any], now: float) -> float | None:
    """Seconds the pod has been Ready (None: not Ready, or being deleted)."""
    from kompy.client.objects import parse_time
    if pod["metadata"].get("deletionTimestamp"):
        return None
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond["type"] == "Ready" and cond["status"] == "True":
            since = parse_time(cond.get("lastTransitionTime"))
            return None if since is None else now - since
    return None


def _serving(pods: list[dict[str, Any]], now: float, new_env: str) -> set[str]:
    """Nodes with an available daemon pod: an old pod that is Ready (it was available long
    ago), or a new one Ready for longer than minReadySeconds."""
    out = set()
    for pod in pods:
        ready_for = _ready_for(pod, now)
        env = pod["spec"]["containers"][0]["env"][0]["value"]
        # A second of slack either way: the stamps have second precision.
        if ready_for is not None and (env != new_env or ready_for > MIN_READY - 1):
            out.add(pod["spec"]["nodeName"])
    return out


def _roll(nodes: dict[str, Any], round_: str, least_serving: int) -> tuple[list[str], bool]:
    """Change the template; watch the pods until all three nodes run the new one, checking
    at every look that at least ``least_serving`` nodes have an available pod. Returns what
    stock kubectl's ``rollout status`` (1.27 and 1.33, watching meanwhile) printed, and
    whether a node was seen with two pods not being deleted (a surge)."""
    kubectl(nodes, "set", "env", "ds/agent", f"ROUND={round_}")
    watchers = [subprocess.Popen([str(binary), "rollout", "status", "ds/agent",
                                  "--timeout=180s"], env=nodes["env"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for binary in (KUBECTL.with_name("kubectl.1.27"), KUBECTL)]
    try:
        deadline = time.monotonic() + 150
        doubled = False
        while time.monotonic() < deadline:
            pods = json_of(nodes, "get", "pods", "-l", "app=agent")["items"]
            now = time.time()
            serving = _serving(pods, now, round_)
            assert len(serving) >= least_serving, (serving, pods)
            live = [p["spec"]["nodeName"] for p in pods
                    if not p["metadata"].get("deletionTimestamp")]
            doubled = doubled or len(live) > len(set(live))
            fresh = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                     and p["spec"]["containers"][0]["env"][0]["value"] == round_
                     and (_ready_for(p, now) or 0) > MIN_READY + 1]
            if len(fresh) == 3 and len(pods) == 3:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"round {round_} did not finish: {pods}")
        outputs = [w.communicate(timeout=60)[0] for w in watchers]
    finally:
        for watcher in watchers:
            if watcher.poll() is None:
                watcher.kill()
    for watcher, out in zip(watchers, outputs, strict=True):
        assert watcher.returncode == 0, out
    return outputs, doubled


def test_a_daemonset_rolls_one_node_at_a_time_with_min_ready_seconds(
        nodes: dict[str, Any]) -> None:
    """maxUnavailable 1 on three nodes: one old pod at a time goes, the next only once the
    new pod has been Ready for minReadySeconds; then maxSurge 1: a new pod beside the old
    one, every node served throughout. Stock kubectl's rollout status follows along."""
    wait_for("three Ready nodes", lambda: ready_nodes(nodes) == {
        "kompy": "True", "kompy-m02": "True", "kompy-m03": "True"}, 90, lambda: str(
        ready_nodes(nodes)))
    # maxSurge beside the defaulted maxUnavailable 1: kube-apiserver's 422, as kubectl shows it.
    refused = subprocess.run([str(KUBECTL), "apply", "-f", "-"], env=nodes["env"],
                             input=AGENT.replace("maxUnavailable: 1", "maxSurge: 1"),
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1, refused.stdout
    assert 'The DaemonSet "agent" is invalid: spec.updateStrategy.rollingUpdate.maxSurge: ' \
           'Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: may not be set ' \
           "when maxUnavailable is non-zero" in refused.stderr, refused.stderr
    apply(nodes, AGENT)
    status = wait_for("three Ready daemon pods", lambda: (
        s := json_of(nodes, "get", "ds", "agent")["status"]).get("numberReady") == 3 and s,
        120)
    assert status["numberAvailable"] < 3, f"Ready is not yet available: {status}"
    assert status["numberUnavailable"] > 0, status
    wait_for("three available", lambda: json_of(nodes, "get", "ds", "agent")[
        "status"].get("numberAvailable") == 3, 60)

    outputs, doubled = _roll(nodes, "2", least_serving=2)
    assert not doubled, "without maxSurge a node never runs two pods"
    for out in outputs:
        assert 'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have ' \
               "been updated...\n" in out, out
        assert "2 out of 3 new pods have been updated..." in out, out
        assert 'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are ' \
               "available...\n" in out, out   # the last pod's minReadySeconds
        assert out.endswith('daemon set "agent" successfully rolled out\n'), out

    kubectl(nodes, "patch", "ds/agent", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":'
            '{"maxUnavailable":0,"maxSurge":1}}}}')
    outputs, doubled = _roll(nodes, "3", least_serving=3)
    assert doubled, "with maxSurge the new pod starts beside the old one"
    assert all(out.endswith('daemon set "agent" successfully rolled out\n') for out in outputs)
    kubectl(nodes, "delete", "ds/agent", "--wait=true", timeout=120)


def test_three_nodes_selector_drain_and_a_killed_node(nodes: dict[str, Any]) -> None:
    wait_for("three Ready nodes", lambda: ready_nodes(nodes) == {
        "kompy": "True", "kompy-m02": "True", "kompy-m03": "True"}, 90, lambda: str(
        ready_nodes(nodes)))
    labels = json_of(nodes, "get", "node", "kompy-m03")["metadata"]["labels"]
    assert labels["topology.kubernetes.io/zone"] == "kompy-m03"
    assert labels["kubernetes.io/hostname"] == "kompy-m03"

    # nodeSelector: both replicas go to the one node labelled disk=ssd.
    kubectl(nodes, "label", "node", "kompy-m02", "disk=ssd")
    apply(nodes, WEB)
    wait_for("both replicas on kompy-m02", lambda: list(placed(nodes, "web")) == ["kompy-m02"]
             and len(placed(nodes, "web")["kompy-m02"]) == 2, 120,
             lambda: str(placed(nodes, "web")))
    wait_for("the budget allowing one disruption", lambda: json_of(
        nodes, "get", "pdb", "web")["status"].get("disruptionsAllowed") == 1, 60)
    containers = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=kompy.cluster={nodes['name']}",
         "--filter", "label=kompy.node=kompy-m02", "--filter", "label=kompy.role=app"],
        capture_output=True, text=True, check=True).stdout.split()
    assert len(containers) == 2, "each pod's container is labelled with its node"

    # Drain: the first eviction is granted; its replacement has nowhere to go (the only
    # ssd node is cordoned), so the budget refuses the second until a node qualifies.
    drain = subprocess.Popen(
        [str(KUBECTL) if KUBECTL.exists() else "kubectl", "drain", "kompy-m02",
         "--ignore-daemonsets", "--timeout=240s"], env=nodes["env"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for("a replacement pending, one replica kept by the budget", lambda: placed(
            nodes, "web").get("") and len(placed(nodes, "web").get("kompy-m02", [])) == 1,
            120, lambda: str(placed(nodes, "web")))
        events = kubectl(nodes, "get", "events", "--field-selector",
                         "reason=FailedScheduling", "-o", "jsonpath={.items[*].message}").stdout
        assert "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't " \
               "match Pod's node affinity/selector." in events
        kubectl(nodes, "label", "node", "kompy-m03", "disk=ssd")
        out, _ = drain.communicate(timeout=240)
    finally:
        if drain.poll() is None:
            drain.kill()
    assert drain.returncode == 0, out
    assert "Cannot evict pod as it would violate the pod's disruption budget." in out
    assert "node/kompy-m02 drained" in out
    assert list(placed(nodes, "web")) == ["kompy-m03"]
    node = json_of(nodes, "get", "node", "kompy-m02")
    assert node["spec"]["unschedulable"] is True

    # A killed node: NotReady and unreachable, its pods evicted after their 2 s toleration
    # and rescheduled on the node uncordoned meanwhile.
    kubectl(nodes, "uncordon", "kompy-m02")
    started = time.monotonic()
    subprocess.run(["docker", "kill", f"kompy_{nodes['name']}_node_kompy-m03"], check=True,
                   capture_output=True)
    wait_for("kompy-m03 NotReady", lambda: ready_nodes(nodes).get("kompy-m03") == "Unknown",
             60)
    listing = kubectl(nodes, "get", "nodes").stdout
    assert any(line.split()[:2] == ["kompy-m03", "NotReady"] for line in listing.splitlines())
    wait_for("the replicas rescheduled on kompy-m02", lambda: list(placed(
        nodes, "web")) == ["kompy-m02"] and len(placed(nodes, "web")["kompy-m02"]) == 2, 120,
        lambda: str(placed(nodes, "web")))
    assert time.monotonic() - started >= LEASE_SECONDS
    taints = json_of(nodes, "get", "node", "kompy-m03")["spec"]["taints"]
    assert {(t["key"], t["effect"]) for t in taints} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute")}
