"""The NetworkPolicy controller in the whole in-process cluster (in-memory container backend)."""

from __future__ import annotations

import threading
from typing import Any

from kompy.cluster.netpol.rules import Chains

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}]}}
DENY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "default"}, "spec": {"podSelector": {}}}


class Recording:
    prefix = "KOMPY-NP-TEST"

    def __init__(self) -> None:
        self.applied: list[Chains] = []
        self.removed = threading.Event()

    def unavailable(self) -> str | None:
        return None

    def apply(self, chains: Chains) -> None:
        self.applied.append(chains)

    def remove(self) -> None:
        self.removed.set()


def test_a_policy_becomes_chains_and_stopping_removes_them(fake_node: Any) -> None:
    firewall = fake_node.firewall = Recording()
    cluster = fake_node.start()
    client = cluster.client
    client.create(POD)
    ip = cluster.wait("the pod's IP", lambda: client.get("pods", "p", "default")["status"].get(
        "podIP"))
    client.create(DENY)
    chains = cluster.wait("chains applied", lambda: next(
        (c for c in firewall.applied if c), None))
    assert chains["KOMPY-NP-TEST-I0"] == ["-j DROP"]
    assert f"-d {ip}/32 -j KOMPY-NP-TEST-I0" in chains["KOMPY-NP-TEST"]
    client.delete("networkpolicies", "deny", "default")
    cluster.wait("the chains emptied", lambda: firewall.applied[-1] == {})
    fake_node.stop_event.set()
    fake_node.runtime.join(5)  # as `kompy cluster stop` does
    fake_node.runtime = None
    assert firewall.removed.is_set()


def test_a_host_that_cannot_filter_says_so_on_each_policy(fake_cluster: Any) -> None:
    client = fake_cluster.client
    client.create(DENY)

    def warned() -> list[dict[str, Any]]:
        return [e for e in client.list("events", "default")["items"]
                if e["reason"] == "NetworkPolicyNotEnforced"
                and e["involvedObject"]["name"] == "deny"]
    found = fake_cluster.wait("the warning event", warned)
    assert found[0]["type"] == "Warning"
    assert "only connections through Services are filtered" in found[0]["message"]


def test_only_pod_changes_that_matter_to_policies_recompile_the_model() -> None:
    """A pod's status writes (conditions, readiness, restarts) leave its address, labels and
    ports alone: recompiling the model over every pod for each of them made the cost grow
    with the square of the pods while hundreds started."""
    from kompy.cluster.netpol.controller import PodRefs

    refs = PodRefs()
    pod: dict[str, Any] = {**POD, "metadata": {**POD["metadata"], "uid": "u1",
                                               "labels": {"app": "a"}}, "status": {}}
    assert not refs.changed(pod, False)  # no address yet: not in the model
    pod["status"] = {"phase": "Running", "podIP": "10.1.0.5"}
    assert refs.changed(pod, False)      # now it is
    pod["status"] = {**pod["status"], "conditions": [{"type": "Ready", "status": "True"}]}
    assert not refs.changed(pod, False)  # readiness alone
    pod["metadata"] = {**pod["metadata"], "labels": {"app": "b"}}
    assert refs.changed(pod, False)      # a selector may now pick it, or not
    assert refs.changed(pod, True)       # gone from the model
    assert not refs.changed(pod, True)   # gone already
    pod["status"] = {"phase": "Succeeded", "podIP": "10.1.0.5"}
    assert not refs.changed(pod, False)  # finished pods are not in the model
