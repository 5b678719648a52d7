"""What the scheduler knows of the cluster when it places one pod: each node with the pods
bound to it and their sums (kube-scheduler's NodeInfo, in its cache's snapshot).

A pod's part of a node's sums (its requests, host ports, claims, owner) is worked out once,
when the pod comes (:class:`PodInfo`), so taking a pod away subtracts exactly what adding it
added; the cache (:mod:`.cache`) keeps the NodeInfos up to date from the informers' events
and copies only the changed ones into the snapshot of each scheduling cycle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kompy.client.objects import (
    Obj,
    controller_ref,
    labels,
    name,
    namespace,
    pod_requests,
    pod_terminal,
)
from kompy.client.quantity import int_value, milli_value
from kompy.cluster.controllers.persistentvolume import claims_of
from kompy.cluster.scheduler import affinity

# The kubelet's default maxPods.
MAX_PODS = 110
# Requests counted for scoring a pod that states none (kube-scheduler's non-zero defaults):
# 0.1 CPU and 200 MiB, so empty pods still spread.
DEFAULT_CPU, DEFAULT_MEMORY = 100, 200 * 1024 * 1024

HostPort = tuple[str, str, int]     # (hostIP, protocol, hostPort)
K = TypeVar("K")


def pod_key(pod: Obj) -> str:
    """The pod's identity in the cache: its UID (a pod made again under the same name is
    another pod), or namespace/name for a pod that has none yet."""
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or f"{namespace(pod)}/{name(pod)}")


def host_ports(pod: Obj) -> frozenset[HostPort]:
    out = set()
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.add((str(p.get("hostIP") or "0.0.0.0"), str(p.get("protocol") or "TCP"),
                         int(p["hostPort"])))
    return frozenset(out)


def scoring_requests(requests: tuple[int, int]) -> tuple[int, int]:
    cpu, mem = requests
    return cpu or DEFAULT_CPU, mem or DEFAULT_MEMORY


@dataclass(frozen=True)
class PodInfo:
    """A bound pod and what it adds to its node's sums."""

    pod: Obj
    requests: tuple[int, int]          # (CPU millis, memory bytes); (0, 0) if unreadable
    host_ports: frozenset[HostPort]
    claims: tuple[tuple[str, str], ...]   # (namespace, claim name)
    owner: tuple[str, Any]             # (namespace, its controller's uid or None)
    required_anti_affinity: bool

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        try:
            requests = pod_requests(pod)
        except ValueError:
            requests = (0, 0)
        ns = namespace(pod)
        return cls(pod, requests, host_ports(pod), tuple((ns, c) for c in claims_of(pod)),
                   (ns, (controller_ref(pod) or {}).get("uid")),
                   bool(affinity.pod_affinity_terms(pod, "podAntiAffinity", True)))


@dataclass
class NodeInfo:
    node: Obj              # {}: the node is gone (or not seen yet) but pods still name it
    pods: dict[str, Obj] = field(default_factory=dict)
    cpu: int = 0           # millis requested by the pods on the node
    memory: int = 0        # bytes requested
    nonzero_cpu: int = 0   # the same, counting a pod without requests as the defaults
    nonzero_memory: int = 0
    host_ports: Counter[HostPort] = field(default_factory=Counter)
    claims: Counter[tuple[str, str]] = field(default_factory=Counter)
    owners: Counter[tuple[str, Any]] = field(default_factory=Counter)
    # Pods with required anti-affinity terms: every incoming pod is checked against them.
    anti_affinity_pods: dict[str, Obj] = field(default_factory=dict)
    generation: int = 0    # the cache's counter at this NodeInfo's last change
    _infos: dict[str, PodInfo] = field(default_factory=dict)
    # allocatable() of the node object it was read from: parsing its quantities on every
    # filter run was half the cost of refusing a pod (preemption asks again per node).
    _allocatable: tuple[Obj, tuple[int, int, int]] | None = None

    @property
    def name(self) -> str:
        return name(self.node)

    @property
    def labels(self) -> dict[str, str]:
        return labels(self.node)

    def allocatable(self) -> tuple[int, int, int]:
        """(CPU millis, memory bytes, pods) the node offers to pods."""
        if self._allocatable is not None and self._allocatable[0] is self.node:
            return self._allocatable[1]
        status = self.node.get("status") or {}
        alloc: Mapping[str, Any] = status.get("allocatable") or status.get("capacity") or {}
        try:
            cpu = milli_value(alloc["cpu"]) if "cpu" in alloc else 0
            mem = int_value(alloc["memory"]) if "memory" in alloc else 0
            pods = int(alloc.get("pods", MAX_PODS))
        except (TypeError, ValueError):
            cpu, mem, pods = 0, 0, MAX_PODS
        self._allocatable = (self.node, (cpu, mem, pods))
        return cpu, mem, pods

    def add(self, pod: Obj, key: str | None = None) -> None:
        key = key or pod_key(pod)
        if key in self._infos:
            self.remove(key)
        info = self._infos[key] = PodInfo.of(pod)
        self.pods[key] = pod
        self._count(info, 1)
        if info.required_anti_affinity:
            self.anti_affinity_pods[key] = pod

    def remove(self, key: str) -> None:
        info = self._infos.pop(key, None)
        if info is None:
            return
        del self.pods[key]
        self.anti_affinity_pods.pop(key, None)
        self._count(info, -1)

    def _count(self, info: PodInfo, sign: int) -> None:
        self.cpu += sign * info.requests[0]
        self.memory += sign * info.requests[1]
        nz_cpu, nz_mem = scoring_requests(info.requests)
        self.nonzero_cpu += sign * nz_cpu
        self.nonzero_memory += sign * nz_mem
        _count(self.host_ports, info.host_ports, sign)
        _count(self.claims, info.claims, sign)
        _count(self.owners, (info.owner,), sign)

    def clone(self) -> NodeInfo:
        """A copy the cache's later changes do not reach (the pods themselves are shared:
        nobody changes them)."""
        return NodeInfo(self.node, dict(self.pods), self.cpu, self.memory, self.nonzero_cpu,
                        self.nonzero_memory, Counter(self.host_ports), Counter(self.claims),
                        Counter(self.owners), dict(self.anti_affinity_pods), self.generation,
                        dict(self._infos), self._allocatable)


def _count(counter: Counter[K], keys: Iterable[K], sign: int) -> None:
    for k in keys:
        counter[k] += sign
        if counter[k] <= 0:
            del counter[k]


@dataclass
class Snapshot:
    """The nodes (sorted by name) as one scheduling cycle sees them. The scheduler keeps one
    and the cache brings it up to date before each cycle (:meth:`.cache.Cache.update`)."""

    nodes: list[NodeInfo]
    generation: int = 0    # the cache's counter when it last brought this snapshot up to date

    @classmethod
    def build(cls, nodes: Iterable[Obj], pods: Iterable[Obj], exclude_uid: str = ""
              ) -> Snapshot:
        """Nodes by name, each with its pods, from scratch. Terminating pods count until
        they are gone, as for kube-scheduler; finished ones do not."""
        infos = {name(n): NodeInfo(n) for n in sorted(nodes, key=name)}
        for i, pod in enumerate(pods):
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or node not in infos or pod_terminal(pod):
                continue
            if (pod.get("metadata") or {}).get("uid") == exclude_uid:
                continue
            infos[node].add(pod, f"{i}/{pod_key(pod)}")
        return cls(list(infos.values()))

    def all_pods(self) -> Iterator[tuple[NodeInfo, Obj]]:
        for info in self.nodes:
            for pod in info.pods.values():
                yield info, pod

    def anti_affinity_pods(self) -> Iterator[tuple[NodeInfo, Obj]]:
        """The pods with required anti-affinity terms (kube-scheduler's
        HavePodsWithRequiredAntiAffinityList)."""
        for info in self.nodes:
            for pod in info.anti_affinity_pods.values():
                yield info, pod

    def claim_users(self, ns: str, claim: str) -> int:
        """How many pods on the nodes use the claim (kube-scheduler's usedPVCSet)."""
        return sum(info.claims.get((ns, claim), 0) for info in self.nodes)
