"""What the scheduler knows of the cluster when it places one pod: each node with the pods
bound to it (kube-scheduler's NodeInfo, in its cache's snapshot)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import (
    Obj,
    cpu_millis,
    labels,
    memory_bytes,
    name,
    pod_requests,
    pod_terminal,
)

# The kubelet's default maxPods.
MAX_PODS = 110


@dataclass
class NodeInfo:
    node: Obj
    pods: list[Obj] = field(default_factory=list)
    cpu: int = 0          # millis requested by the pods on the node
    memory: int = 0       # bytes requested

    @property
    def name(self) -> str:
        return name(self.node)

    @property
    def labels(self) -> dict[str, str]:
        return labels(self.node)

    def allocatable(self) -> tuple[int, int, int]:
        """(CPU millis, memory bytes, pods) the node offers to pods."""
        status = self.node.get("status") or {}
        alloc: Mapping[str, Any] = status.get("allocatable") or status.get("capacity") or {}
        try:
            cpu = cpu_millis(alloc["cpu"]) if "cpu" in alloc else 0
            mem = memory_bytes(alloc["memory"]) if "memory" in alloc else 0
            pods = int(alloc.get("pods", MAX_PODS))
        except (TypeError, ValueError):
            cpu, mem, pods = 0, 0, MAX_PODS
        return cpu, mem, pods

    def add(self, pod: Obj) -> None:
        self.pods.append(pod)
        try:
            c, m = pod_requests(pod)
        except ValueError:
            c, m = 0, 0
        self.cpu += c
        self.memory += m


@dataclass
class Snapshot:
    nodes: list[NodeInfo]

    @classmethod
    def build(cls, nodes: Iterable[Obj], pods: Iterable[Obj], exclude_uid: str = ""
              ) -> Snapshot:
        """Nodes by name, each with its pods. Terminating pods count until they are gone,
        as for kube-scheduler; finished ones do not."""
        infos = {name(n): NodeInfo(n) for n in sorted(nodes, key=name)}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or node not in infos or pod_terminal(pod):
                continue
            if (pod.get("metadata") or {}).get("uid") == exclude_uid:
                continue
            infos[node].add(pod)
        return cls(list(infos.values()))

    def all_pods(self) -> Iterable[tuple[NodeInfo, Obj]]:
        for info in self.nodes:
            for pod in info.pods:
                yield info, pod
