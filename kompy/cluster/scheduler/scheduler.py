"""The scheduler of a one-node cluster: registers the node and binds pending pods to it.

The node "kompy" is this machine: its capacity is the real CPU count and memory. A pod is
bound (``spec.nodeName``) when its requests fit beside those of the pods already bound;
otherwise it stays Pending with condition PodScheduled=False (reason Unschedulable) and a
FailedScheduling event saying why, as kube-scheduler reports it, and is tried again whenever
a pod leaves the node. https://kubernetes.io/docs/concepts/scheduling-eviction/
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Hashable
from typing import Any

from kompy.client import ApiError, Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace, now, pod_requests, pod_terminal, terminating
from kompy.client.workqueue import WorkQueue
from kompy.errors import KompyError

log = logging.getLogger(__name__)

# The kubelet's default maxPods: a node's status.capacity.pods and allocatable.pods.
MAX_PODS = 110


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


def node_object(node_name: str, cpu_millis: int, memory: int, address: str,
                max_pods: int = MAX_PODS) -> Obj:
    capacity = {"cpu": str(cpu_millis // 1000), "memory": f"{memory // 1024}Ki",
                "pods": str(max_pods), "ephemeral-storage": "0"}
    stamp = now()
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node_name, "labels": {
            "kubernetes.io/hostname": node_name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64" if platform.machine() == "x86_64" else platform.machine(),
            "node-role.kubernetes.io/control-plane": ""}},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kompy is posting ready status",
                            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
            "addresses": [{"type": "InternalIP", "address": address},
                          {"type": "Hostname", "address": platform.node() or node_name}],
            "nodeInfo": {"containerRuntimeVersion": "docker", "kubeletVersion": "kompy",
                         "operatingSystem": "linux", "architecture": platform.machine()},
        },
    }


def fits(requests: tuple[int, int], used: tuple[int, int], capacity: tuple[int, int],
         pods: int = 0, max_pods: int = MAX_PODS) -> list[str]:
    """Why a pod does not fit ([] when it does), worded and sorted as kube-scheduler's
    NodeResourcesFit plugin says it; ``pods`` are already on the node, which takes at most
    ``max_pods`` (its ``status.allocatable.pods``)."""
    reasons = []
    if requests[0] and used[0] + requests[0] > capacity[0]:
        reasons.append("Insufficient cpu")
    if requests[1] and used[1] + requests[1] > capacity[1]:
        reasons.append("Insufficient memory")
    if pods + 1 > max_pods:
        reasons.append("Too many pods")
    return sorted(reasons)


class Scheduler:
    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 node_name: str = "kompy", max_pods: int = MAX_PODS) -> None:
        self.client = client
        self.max_pods = max_pods
        self.recorder = recorder
        self.node_name = node_name
        self.capacity = machine_capacity()
        self.pods = informers["pods"]
        self.queue = WorkQueue()
        self.pods.add_handler(self._on_pod)
        self._thread = threading.Thread(target=self.queue.run_worker,
                                        args=(self._schedule_key, self._schedule_failed),
                                        name="scheduler", daemon=True)

    def register_node(self, address: str = "127.0.0.1") -> None:
        node = node_object(self.node_name, *self.capacity, address, self.max_pods)
        try:
            existing = self.client.get("nodes", self.node_name)
            node["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
            node["metadata"]["uid"] = existing["metadata"].get("uid")
            updated = self.client.replace(node)
            node["metadata"]["resourceVersion"] = updated["metadata"].get("resourceVersion")
            self.client.replace_status({**updated, "status": node["status"]})
        except NotFound:
            created = self.client.create(node)
            try:
                self.client.replace_status({**created, "status": node["status"]})
            except ApiError as error:
                log.debug("node status: %s", error)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.queue.shutdown()
        self._thread.join(timeout)

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        spec = pod.get("spec") or {}
        if deleted or terminating(pod) or pod_terminal(pod):
            if spec.get("nodeName"):  # room freed: try the pods still waiting
                for waiting in self.pods.list():
                    if not (waiting.get("spec") or {}).get("nodeName"):
                        self.queue.add((namespace(waiting), name(waiting)))
            return
        if not spec.get("nodeName"):
            self.queue.add((namespace(pod), name(pod)))

    def _schedule_key(self, key: Hashable) -> None:
        self._schedule(*key)  # type: ignore[misc]

    def _schedule_failed(self, key: Hashable, error: Exception) -> float:
        if isinstance(error, KompyError):
            log.warning("scheduling %s: %s", key, error)
        else:  # the scheduler must survive any one pod
            log.error("scheduling %s failed", key, exc_info=error)
        return 5.0

    def _used(self, exclude: str) -> tuple[int, int, int]:
        """(CPU millis, memory bytes, pods) of the pods on the node. Terminating pods count
        until they are gone, as for kube-scheduler; finished ones do not."""
        cpu = mem = pods = 0
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != self.node_name or pod_terminal(pod):
                continue
            if (pod.get("metadata") or {}).get("uid") == exclude:
                continue
            c, m = pod_requests(pod)
            cpu, mem, pods = cpu + c, mem + m, pods + 1
        return cpu, mem, pods

    def _schedule(self, ns: str, pod_name: str) -> None:
        pod = self.pods.get(ns, pod_name)
        if pod is None or terminating(pod) or (pod.get("spec") or {}).get("nodeName"):
            return
        try:
            requests = pod_requests(pod)
        except ValueError as error:
            self._unschedulable(pod, f"0/1 nodes are available: {error}.")
            return
        cpu, mem, pods = self._used((pod.get("metadata") or {}).get("uid", ""))
        reasons = fits(requests, (cpu, mem), self.capacity, pods, self.max_pods)
        if reasons:
            self._unschedulable(pod, "0/1 nodes are available: 1 " + ", 1 ".join(reasons) + ".")
            return
        try:
            bound = self.client.patch("pods", pod_name, ns, {"spec": {"nodeName": self.node_name}})
        except NotFound:
            return
        except Conflict:
            self.queue.add_after((ns, pod_name), 0.5)
            return
        self.pods.upsert_local(bound)
        self.recorder.normal(bound, "Scheduled",
                             f"Successfully assigned {ns}/{pod_name} to {self.node_name}")

    def _unschedulable(self, pod: Obj, message: str) -> None:
        for cond in (pod.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("message") == message:
                return  # already said (and writing it again would wake us up again)
        self.recorder.warning(pod, "FailedScheduling", message)
        status: dict[str, Any] = dict(pod.get("status") or {})
        status["phase"] = "Pending"
        status["conditions"] = [{"type": "PodScheduled", "status": "False",
                                 "reason": "Unschedulable", "message": message,
                                 "lastProbeTime": None, "lastTransitionTime": now()}]
        try:
            self.client.replace_status({**pod, "status": status})
        except ApiError as error:
            log.debug("status of unschedulable pod %s: %s", name(pod), error)
