"""Cluster DNS: the zone kept from Services and Endpoints, served on the kube-dns address.

What CoreDNS is to a kubeadm cluster: a DNS server that watches Services and Endpoints and
answers the names of the Kubernetes DNS specification (:mod:`.zone`), forwarding other names
to the node's resolvers (:mod:`.upstream`). It runs in the daemon, on an address of its own:
a Service network (as every ClusterIP here, :mod:`kompy.cluster.proxy.proxier`) whose gateway
is the ``kube-dns`` Service's cluster IP in ``kube-system``, port 53 over UDP and TCP. Every
pod network reaches it, whichever node runs the pod, since the host owns that address. The
kubelet writes it into each ClusterFirst pod's resolv.conf (its ``clusterDNS``).

Port 53 needs the daemon to run as root (or with CAP_NET_BIND_SERVICE). When it cannot bind,
kompy serves no cluster DNS: the kubelet falls back as a kubelet without ``clusterDNS`` does
(MissingClusterDNS; pods use the node's resolvers) and keeps kompy's older way, Service names
in each pod's /etc/hosts, so names still resolve.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import threading
from typing import Any

from kompy.client import ApiError, KubeClient, NotFound
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace, terminating
from kompy.cluster.dns.server import Allow, DnsServer
from kompy.cluster.dns.upstream import Upstream
from kompy.cluster.dns.zone import Endpoint, Port, ServiceEntry, Zone
from kompy.cluster.kubelet.backend import ContainerBackend
from kompy.cluster.kubelet.resolvconf import DnsSettings
from kompy.cluster.proxy.proxier import SERVICE_RANGE, ensure_service_network
from kompy.errors import KompyError

log = logging.getLogger(__name__)

DNS_NAMESPACE = "kube-system"
DNS_SERVICE = "kube-dns"
DNS_LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
              "kubernetes.io/name": "CoreDNS"}


def entry_for(svc: Obj, endpoints: Obj | None) -> ServiceEntry | None:
    """What the zone holds for a Service; None while it has no address to give (a cluster
    IP the proxy has not made its own yet answers nothing rather than an unreachable one)."""
    spec = svc.get("spec") or {}
    ns, svc_name = namespace(svc), name(svc)
    ports = tuple(Port(str(p.get("name") or ""), int(p.get("port") or 0),
                       str(p.get("protocol") or "TCP")) for p in spec.get("ports") or [])
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "").strip()
        if not target:
            return None
        return ServiceEntry(ns, svc_name, "ExternalName", external_name=target, ports=ports)
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip == "None":
        return ServiceEntry(ns, svc_name, "Headless", ports=ports,
                            endpoints=ready_endpoints(endpoints))
    if not _proxied(cluster_ip):
        return None
    return ServiceEntry(ns, svc_name, "ClusterIP", cluster_ip=cluster_ip, ports=ports)


def ready_endpoints(endpoints: Obj | None) -> tuple[Endpoint, ...]:
    """The ready addresses of an Endpoints object (the controller lists not-ready pods as
    ready for a Service with ``publishNotReadyAddresses``), with their subset's ports."""
    out = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = tuple(Port(str(p.get("name") or ""), int(p.get("port") or 0),
                           str(p.get("protocol") or "TCP")) for p in subset.get("ports") or [])
        for address in subset.get("addresses") or []:
            if address.get("ip"):
                out.append(Endpoint(str(address["ip"]), str(address.get("hostname") or ""),
                                    ports))
    return tuple(out)


def _proxied(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in SERVICE_RANGE
    except ValueError:
        return False


class ClusterDNS:
    def __init__(self, client: KubeClient, backend: ContainerBackend, informers: Informers,
                 settings: DnsSettings, *, address: tuple[str, int] | None = None) -> None:
        """``address``: where to listen instead of the kube-dns Service's address (tests)."""
        self.client = client
        self.backend = backend
        self.informers = informers
        self.settings = settings
        self.address = address
        self.ip = ""
        self.zone = Zone(settings.cluster_domain)
        self.server: DnsServer | None = None
        self.allow: Allow | None = None
        self._lock = threading.Lock()

    def start(self) -> DnsSettings:
        """Bind the server and follow Services and Endpoints; the node's DNS settings with
        the server's address as ``clusterDNS`` (none when it could not start)."""
        try:
            host, port = self.address or (self._kube_dns_address(), 53)
        except KompyError as error:
            log.warning("no cluster DNS: its address could not be made: %s", error)
            return self.settings
        upstream = Upstream(self.settings.resolv_conf, exclude=(host,))
        try:
            self.server = DnsServer(host, self.zone, upstream, port, allow=self._allowed)
        except OSError as error:
            why = (" (port 53 needs the daemon to run as root or with CAP_NET_BIND_SERVICE)"
                   if error.errno == errno.EACCES else "")
            log.warning("no cluster DNS: cannot listen on %s:%d: %s%s; pods get the node's "
                        "resolvers, and Service names in their /etc/hosts", host, port,
                        error.strerror or error, why)
            return self.settings
        self.ip = host
        self.zone.dns_ip = host
        log.info("cluster DNS serving %s on %s:%d", self.zone.domain, host, self.server.port)
        services, endpoints = self.informers["services"], self.informers["endpoints"]
        services.add_handler(lambda obj, _d: self._refresh(namespace(obj), name(obj)))
        endpoints.add_handler(lambda obj, _d: self._refresh(namespace(obj), name(obj)))
        if self.address is None:
            self._publish_service()
        return DnsSettings((host,), self.settings.cluster_domain, self.settings.resolv_conf)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def _allowed(self, client_ip: str, protocol: str) -> bool:
        return self.allow is None or self.allow(client_ip, protocol)

    def _refresh(self, ns: str, svc_name: str) -> None:
        with self._lock:
            svc = self.informers["services"].get(ns, svc_name)
            entry = None
            if svc is not None and not terminating(svc):
                entry = entry_for(svc, self.informers["endpoints"].get(ns, svc_name))
            if entry is None:
                self.zone.remove(ns, svc_name)
            else:
                self.zone.set(entry)

    # -- the kube-dns Service -------------------------------------------------------------------
    def _kube_dns_address(self) -> str:
        info = ensure_service_network(self.backend, DNS_NAMESPACE, DNS_SERVICE, threading.Lock())
        return info.gateway

    def _publish_service(self) -> None:
        """``kube-system/kube-dns`` with this server's address, as a cluster shows its DNS
        (``kubectl get svc -n kube-system``); Endpoints name the same address."""
        ports = [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                 {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]
        svc: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": DNS_SERVICE, "namespace": DNS_NAMESPACE,
                         "labels": dict(DNS_LABELS)},
            "spec": {"clusterIP": self.ip, "ports": ports, "type": "ClusterIP"}}
        subsets = [{"addresses": [{"ip": self.ip}],
                    "ports": [{"name": p["name"], "port": 53, "protocol": p["protocol"]}
                              for p in ports]}]
        endpoints: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": DNS_SERVICE, "namespace": DNS_NAMESPACE,
                         "labels": dict(DNS_LABELS)},
            "subsets": subsets}
        try:
            _create_or_replace(self.client, "services", svc)
            _create_or_replace(self.client, "endpoints", endpoints)
        except (ApiError, KompyError) as error:
            log.warning("could not publish the kube-dns Service: %s", error)


def _create_or_replace(client: KubeClient, resource: str, obj: Obj) -> None:
    """Once per start of the daemon: create the object, or write ours over what is there."""
    meta = obj["metadata"]
    try:
        current = client.get(resource, meta["name"], meta["namespace"])
    except NotFound:
        client.create(obj)
        return
    meta["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
    client.replace(obj)
