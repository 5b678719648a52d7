"""Everything that makes the built-in cluster's objects real, started by the daemon.

``start_runtime`` wires the shared informers, the cluster DNS, the scheduler, the kubelet,
the controllers (ReplicaSet, Deployment, Endpoints, garbage collector, Namespace,
PersistentVolume (binding, kompy's provisioner, expansion, reclaim), ResourceQuota,
StatefulSet, DaemonSet, disruption, node lifecycle, Job, CronJob, ServiceAccounts,
ClusterRole aggregation, the ``kubernetes`` Service, HorizontalPodAutoscaler), the metrics
collector (metrics.k8s.io), the NetworkPolicy controller, the Service proxy and the Ingress
controller to one KubeClient (pointed at the daemon's own API server) and one container
backend (the Docker engine's, unless a test hands in another).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kompy.client import KubeClient
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.cluster.apiserver.handlers import PodIO
from kompy.cluster.controllers.apiservice import ApiServiceController
from kompy.cluster.controllers.base import Controller
from kompy.cluster.controllers.clusterroles import ClusterRoleAggregation
from kompy.cluster.controllers.cronjob import CronJobController
from kompy.cluster.controllers.daemonset import DaemonSetController
from kompy.cluster.controllers.deployment import DeploymentController
from kompy.cluster.controllers.disruption import DisruptionController
from kompy.cluster.controllers.endpoints import EndpointsController
from kompy.cluster.controllers.gc import GarbageCollector
from kompy.cluster.controllers.hpa import HorizontalPodAutoscalerController
from kompy.cluster.controllers.job import JobController
from kompy.cluster.controllers.namespace import NamespaceController
from kompy.cluster.controllers.nodelifecycle import NodeLifecycleController
from kompy.cluster.controllers.persistentvolume import PersistentVolumeController
from kompy.cluster.controllers.provisioner import Provisioner
from kompy.cluster.controllers.replicaset import ReplicaSetController
from kompy.cluster.controllers.resourcequota import ResourceQuotaController
from kompy.cluster.controllers.serviceaccounts import DefaultAccounts
from kompy.cluster.controllers.statefulset import StatefulSetController
from kompy.cluster.controllers.storageprotection import StorageProtectionController
from kompy.cluster.dns.clusterdns import DNS_NAMESPACE, DNS_SERVICE, ClusterDNS
from kompy.cluster.ingress.controller import IngressController
from kompy.cluster.ingress.ports import PortSetting
from kompy.cluster.kubelet.backend import ContainerBackend
from kompy.cluster.kubelet.config import KubeletConfig
from kompy.cluster.kubelet.docker_backend import DockerBackend
from kompy.cluster.kubelet.hosts import HostsTable
from kompy.cluster.kubelet.kubelet import Kubelet
from kompy.cluster.kubelet.podio import DockerPodIO
from kompy.cluster.kubelet.resolvconf import DnsSettings
from kompy.cluster.metrics.collector import Collector, resolution_from_env
from kompy.cluster.netpol.controller import (
    Firewall,
    NetworkPolicyController,
    NoFirewall,
    remove_rules,
)
from kompy.cluster.netpol.iptables import Iptables, chain_prefix
from kompy.cluster.proxy.proxier import ServiceProxy
from kompy.cluster.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

__all__ = ["Runtime", "cleanup", "start_runtime"]


class Runtime:
    def __init__(self, stop: threading.Event, pod_io: PodIO, informers: Informers,
                 kubelet: Kubelet, scheduler: Scheduler, controllers: list[Controller],
                 dns: ClusterDNS | None = None, metrics: Collector | None = None) -> None:
        self.stop = stop
        self.metrics = metrics   # metrics-server's part: the API server's MetricsSource
        self.dns = dns
        self.pod_io = pod_io
        self.informers = informers
        self.kubelet = kubelet
        self.scheduler = scheduler
        self.controllers = controllers

    def join(self, timeout: float | None = None) -> None:
        """Wait for the stop event, then stop every loop and the pods' containers, as a
        node shutting down does (``kompy cluster stop``). Objects stay in the store; the next
        start finds the stopped containers by their labels and runs the pods again."""
        if not self.stop.wait(timeout):
            return
        began = time.monotonic()
        for controller in self.controllers:
            controller.join(1.0)
        self.scheduler.join(1.0)
        self.kubelet.join(1.0)
        loops = time.monotonic()
        self.kubelet.stop_containers()
        log.info("stopped the loops in %.1f s and the pods' containers in %.1f s",
                 loops - began, time.monotonic() - loops)
        if self.dns is not None:
            self.dns.close()


def start_runtime(client: KubeClient, state_dir: Path, cluster: str, stop: threading.Event,
                  *, backoff_base: float = 10.0, backend: ContainerBackend | None = None,
                  config: KubeletConfig | None = None,
                  ingress_ports: PortSetting | None = None,
                  dns_address: tuple[str, int] | None = None, api_port: int = 0,
                  api_ca: str = "", on_api_address: Callable[[str], None] | None = None,
                  metric_resolution: float | None = None,
                  firewall: Firewall | None = None) -> Runtime:
    """``dns_address``: where the cluster DNS listens instead of the kube-dns Service's
    address (tests on the in-memory backend). ``api_port``: where the API server listens,
    for its ``kubernetes`` Service (none without it); ``api_ca``: its CA certificate (PEM),
    published to every namespace; ``on_api_address``: told the Service's cluster IP.
    ``metric_resolution``: seconds between the metrics collector's samples (else
    ``KOMPY_METRIC_RESOLUTION`` or 15 s). ``firewall``: where NetworkPolicy rules go (the
    host's iptables unless a test hands in another)."""
    config = config or KubeletConfig()
    if backend is None:
        backend = DockerBackend(cluster, str(state_dir))
    informers = Informers(client, stop)
    dns = ClusterDNS(client, backend, informers,
                     DnsSettings(cluster_domain=config.cluster_domain,
                                 resolv_conf=config.resolv_conf), address=dns_address)
    hosts = HostsTable(dns.start())
    kubelet_events = EventRecorder(client, "kubelet")
    controller_events = EventRecorder(client, "controller-manager")
    scheduler = Scheduler(client, informers, EventRecorder(client, "default-scheduler"))
    kubelet = Kubelet(client, backend, informers, kubelet_events, Path(state_dir), hosts, stop,
                      backoff_base=backoff_base, config=config)
    policies = NetworkPolicyController(
        client, informers, EventRecorder(client, "kompy-network-policy"), backend,
        firewall or _firewall(backend, cluster, state_dir))
    proxy = ServiceProxy(client, backend, informers, EventRecorder(client, "kube-proxy"), hosts,
                         policy=policies)
    proxy.reserved.add((DNS_NAMESPACE, DNS_SERVICE))

    def namespace_gone(ns: str) -> None:
        proxy.forget_namespace(ns)
        kubelet.worker.forget_namespace(ns)

    controllers: list[Controller] = [
        ReplicaSetController(client, informers, controller_events),
        DeploymentController(client, informers, controller_events),
        EndpointsController(client, informers, controller_events),
        GarbageCollector(client, informers, controller_events),
        NamespaceController(client, informers, controller_events, on_gone=namespace_gone),
        PersistentVolumeController(client, informers, controller_events, Provisioner(backend)),
        StorageProtectionController(client, informers, controller_events),
        ResourceQuotaController(client, informers, controller_events),
        StatefulSetController(client, informers, controller_events),
        DaemonSetController(client, informers, controller_events),
        DisruptionController(client, informers, controller_events),
        NodeLifecycleController(client, informers, EventRecorder(client, "node-controller"),
                                period=min(5.0, config.node_lease_duration_seconds / 4)),
        JobController(client, informers, controller_events),
        CronJobController(client, informers, controller_events),
        DefaultAccounts(client, informers, controller_events, api_ca),
        ClusterRoleAggregation(client, informers, controller_events),
        HorizontalPodAutoscalerController(client, informers,
                                          EventRecorder(client, "horizontal-pod-autoscaler")),
        policies,
        proxy,
        IngressController(client, informers, EventRecorder(client, "kompy-ingress-controller"),
                          Path(state_dir), ingress_ports),
    ]
    if api_port:
        controllers.append(ApiServiceController(client, informers, controller_events,
                                                api_port, on_api_address))
    metrics = Collector(backend, informers["pods"], informers["nodes"], stop,
                        metric_resolution or resolution_from_env())
    informers.start()
    scheduler.start()
    kubelet.start(informers)
    for controller in controllers:
        controller.start()
    metrics.start()
    return Runtime(stop, DockerPodIO(backend, informers["pods"]), informers, kubelet, scheduler,
                   controllers, dns, metrics)


def _firewall(backend: ContainerBackend, cluster: str, state_dir: Path) -> Firewall:
    """The host's iptables for pods on Docker; none for the in-memory backend of tests."""
    if isinstance(backend, DockerBackend):
        return Iptables(chain_prefix(cluster, str(state_dir)))
    return NoFirewall("the container backend has no packets to filter")


def cleanup(cluster: str, state_dir: Path, volumes: bool,
            progress: Callable[[str], None] | None = None) -> None:
    """Remove every Docker object of ``cluster`` (claims' volumes only with ``volumes``), and
    its NetworkPolicy rules (left behind when its daemon was killed)."""
    DockerBackend(cluster, str(state_dir)).remove_all(volumes, progress)
    remove_rules(Iptables(chain_prefix(cluster, str(state_dir))))
