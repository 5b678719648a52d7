"""The nodes this kubelet serves: their Node objects, heartbeats and power.

Each node of the cluster is, as in kind, a container of its own on the one Docker engine
(``kompy_<cluster>_node_<node>``, labelled ``kompy.role=node``, ``kompy.node=<node>``): an
idle process that stands for the machine. Its pods' containers are its siblings, labelled
``kompy.node=<node>`` too. While the node container runs, the node is up: its Lease in
``kube-node-lease`` is renewed every quarter of ``nodeLeaseDurationSeconds`` and its Ready
condition says so. ``docker stop`` (or kill) of it powers the node off: its pods'
containers are killed, its heartbeat stops, and the node lifecycle controller marks it
unreachable. ``docker start`` powers it on again.
https://kubernetes.io/docs/concepts/architecture/nodes/#node-heartbeats
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
from collections.abc import Callable
from typing import Any

from kompy.client import ApiError, Conflict, KubeClient, NotFound
from kompy.client.objects import Obj, labels, now
from kompy.cluster.kubelet.backend import LABEL_NODE, LABEL_ROLE, ContainerBackend, ContainerSpec
from kompy.errors import KompyError

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
FIRST_NODE = "kompy"


def node_names(count: int) -> list[str]:
    """``kompy``, ``kompy-m02``, ``kompy-m03``... as minikube names a cluster's nodes."""
    return [FIRST_NODE] + [f"{FIRST_NODE}-m{i:02d}" for i in range(2, count + 1)]


def machine_capacity() -> tuple[int, int]:
    """(CPU millis, memory bytes) of this machine."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        memory = 0
    return (cpus or 1) * 1000, memory


def micro_time() -> str:
    """A MicroTime, as Leases carry them."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_labels(node_name: str) -> dict[str, str]:
    """The well-known labels a node registers with: each node is its own failure domain
    (hostname and zone), all in one region."""
    arch = platform.machine()
    out = {HOSTNAME: node_name, "kubernetes.io/os": "linux",
           "kubernetes.io/arch": "amd64" if arch == "x86_64" else arch,
           ZONE: node_name, REGION: "kompy"}
    if node_name == FIRST_NODE:
        out[CONTROL_PLANE] = ""
    return out


def node_status(cpu_millis: int, memory: int, address: str, max_pods: int,
                ready: bool = True) -> Obj:
    capacity = {"cpu": str(max(cpu_millis // 1000, 1)), "memory": f"{memory // 1024}Ki",
                "pods": str(max_pods), "ephemeral-storage": "0"}
    stamp = now()
    return {
        "capacity": capacity, "allocatable": dict(capacity),
        "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "kubelet is posting ready status" if ready else
                        "kubelet is stopping",
                        "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
        "addresses": [{"type": "InternalIP", "address": address},
                      {"type": "Hostname", "address": platform.node() or "kompy"}],
        "nodeInfo": {"containerRuntimeVersion": "docker", "kubeletVersion": "v1.30.0-kompy",
                     "kubeProxyVersion": "v1.30.0-kompy", "operatingSystem": "linux",
                     "architecture": platform.machine(), "osImage": platform.platform(),
                     "kernelVersion": platform.release()},
    }


def node_object(node_name: str, cpu_millis: int, memory: int, address: str,
                max_pods: int = 110) -> Obj:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node_name, "labels": node_labels(node_name)},
            "spec": {}, "status": node_status(cpu_millis, memory, address, max_pods)}


def ensure_nodes(client: KubeClient, count: int) -> list[str]:
    """Create the Node objects ``kompy-m02``... up to ``count`` nodes (the kubelet then runs
    each); those that exist are kept. The names created."""
    made = []
    for node_name in node_names(count)[1:]:  # the first registers itself
        try:
            client.create({"apiVersion": "v1", "kind": "Node",
                           "metadata": {"name": node_name, "labels": node_labels(node_name)}})
            made.append(node_name)
        except Conflict:
            continue
    return made


class NodeAgent:
    """One node: its registration, its node container and its heartbeat."""

    def __init__(self, client: KubeClient, backend: ContainerBackend, node_name: str,
                 pause_image: Callable[[], str], max_pods: int, lease_seconds: int) -> None:
        self.client = client
        self.backend = backend
        self.name = node_name
        self.pause_image = pause_image
        self.max_pods = max_pods
        self.lease_seconds = lease_seconds
        self.up = False
        self.booted = False  # a failed boot is tried again; a stop after it is the user's

    @property
    def container_name(self) -> str:
        return f"kompy_{self.backend.cluster}_node_{self.name}"

    def boot(self) -> None:
        """The machine starts: its container is made or started (at the daemon's start)."""
        info = self.backend.inspect(self.container_name)
        if info is None:
            spec = ContainerSpec(
                name=self.container_name, image=self.pause_image(),
                labels=self.backend.labels("", f"Node/{self.name}", **{
                    LABEL_ROLE: "node", LABEL_NODE: self.name}),
                entrypoint=["sleep"], command=["2147483647"], hostname=self.name, init=True)
            cid = self.backend.create(spec)
            self.backend.start(cid)
        elif not info.running:
            self.backend.start(info.id)
        self.booted = True

    def powered(self) -> bool:
        """Whether the node container runs (the machine is on)."""
        try:
            info = self.backend.inspect(self.container_name)
        except KompyError as error:
            log.warning("node %s: %s", self.name, error)
            return self.up  # the engine does not answer: nothing learnt
        return info is not None and info.running

    def register(self) -> None:
        """Create or update the Node with this machine's capacity and a Ready status, as
        the kubelet registers; labels a user set are kept, the well-known ones added."""
        cpu, memory = machine_capacity()
        status = node_status(cpu, memory, "127.0.0.1", self.max_pods)
        try:
            node = self.client.get("nodes", self.name)
        except NotFound:
            # Registered with its status in the one request, as the kubelet's initialNode
            # is: the node is never seen without its capacity and Ready condition.
            self.client.create({"apiVersion": "v1", "kind": "Node", "metadata": {
                "name": self.name, "labels": node_labels(self.name)}, "spec": {},
                "status": status})
            return
        wanted = {**node_labels(self.name), **labels(node)}
        if wanted != labels(node):
            node = self.client.patch("nodes", self.name, None,
                                     {"metadata": {"labels": wanted}})
        self._write_status(node, status)

    def _write_status(self, node: Obj, status: Obj) -> None:
        old = node.get("status") or {}
        merged = {**old, **status}
        # Conditions other than Ready (a user's or another controller's) are kept.
        others = [c for c in old.get("conditions") or [] if c.get("type") != "Ready"]
        merged["conditions"] = status["conditions"] + others
        for _ in range(3):
            try:
                self.client.replace_status({**node, "status": merged})
                return
            except Conflict:
                node = self.client.get("nodes", self.name)

    def heartbeat(self) -> None:
        """Renew the node's Lease, and say Ready again if the node said otherwise."""
        lease: dict[str, Any] = {
                 "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE},
                 "spec": {"holderIdentity": self.name,
                          "leaseDurationSeconds": self.lease_seconds,
                          "renewTime": micro_time()}}
        try:
            current = self.client.get("leases", self.name, LEASE_NAMESPACE)
            lease["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            lease["spec"]["acquireTime"] = (current.get("spec") or {}).get("acquireTime")
            self.client.replace(lease)
        except NotFound:
            try:
                node = self.client.get("nodes", self.name)
            except NotFound:
                return
            lease["metadata"]["ownerReferences"] = [{
                "apiVersion": "v1", "kind": "Node", "name": self.name,
                "uid": node["metadata"].get("uid")}]
            lease["spec"]["acquireTime"] = lease["spec"]["renewTime"]
            self.client.create(lease)
        except Conflict:
            return  # renewed by another writer just now: next round
        try:
            node = self.client.get("nodes", self.name)
        except NotFound:
            return
        ready = [c for c in (node.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"]
        if not ready or ready[0].get("status") != "True":
            self.register()

    def safe(self, step: Callable[[], None], what: str) -> None:
        try:
            step()
        except (KompyError, ApiError) as error:
            log.warning("node %s: %s: %s", self.name, what, error)
