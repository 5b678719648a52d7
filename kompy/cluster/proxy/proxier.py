"""Services on Docker: cluster IPs, load balancing over ready endpoints, host ports.

Design (see also docs/cluster.md, "Services, DNS and isolation"):

- Each namespace is one Docker bridge network ``kompy-<cluster>-<ns>``; Docker isolates
  bridge networks from each other, so pods of different namespaces cannot reach each other.
- Each Service gets a tiny Docker network of its own (a /29 carved out of 10.213.0.0/16 with
  an explicit IPAM subnet). The host owns every bridge's gateway address, so that gateway IP
  is a host address the daemon can listen on without root or iptables: it is the Service's
  ClusterIP. Traffic from a pod to it enters the host's INPUT chain (not FORWARD, where
  Docker's inter-network isolation rules live), so every namespace can reach it.
- The daemon runs a userspace TCP proxy on ``<clusterIP>:<port>`` for each Service port,
  balancing connections round-robin over the *ready* endpoints (``pod IP:targetPort``) and
  refusing clients from other namespaces' networks.
- Names resolve through each pod's ``/etc/hosts`` (:mod:`kompy.cluster.kubelet.hosts`).
- Host access: NodePort Services answer at <nodePort> on 127.0.0.1 and on each node's
  InternalIP (the ones that are this host's: loopback addresses, or gateways of the cluster's
  Docker networks — never an address facing another machine), LoadBalancer Services also at
  127.0.0.1:<port> (as k3s's service load balancer answers on its nodes), with
  ``status.loadBalancer.ingress: [{ip: 127.0.0.1}]`` once those ports listen (``kubectl get
  svc`` shows it as EXTERNAL-IP), and every entry ``hostPort:port/proto`` of the annotation
  ``kompy.dev/host-ports`` at 127.0.0.1:<hostPort>. A port already taken on the host is an
  event on the Service (``kompy describe`` shows it), never a crash.
- NetworkPolicies: a relayed connection reaches its backend from the host, where the rules
  on forwarded packets (:mod:`kompy.cluster.netpol`) never see it, so the relay itself asks
  the policies whether the client pod may reach each backend pod (at its target port, as
  kube-proxy's DNAT lets the policy see it) and only relays to those. A client that is not a
  pod is the node itself, always admitted ("the only allowed connections into the pod are
  those from the pod's node and those allowed by the ingress list", Kubernetes docs).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import Obj, meta, name, namespace, terminating
from kompy.cluster.controllers.apiservice import is_api_service
from kompy.cluster.controllers.base import Controller
from kompy.cluster.kubelet.backend import LABEL_SERVICE, ContainerBackend, NetworkInfo
from kompy.cluster.kubelet.hosts import HostsTable
from kompy.cluster.proxy import nodeports
from kompy.cluster.proxy.tcpproxy import TcpListener, UdpListener
from kompy.errors import KompyError

log = logging.getLogger(__name__)

SERVICE_RANGE = ipaddress.ip_network("10.213.0.0/16")
SERVICE_PREFIX = 29
HOST_PORTS_ANNOTATION = "kompy.dev/host-ports"
LOOPBACK = "127.0.0.1"
LOAD_BALANCER = [{"ip": LOOPBACK}]

ListenKey = tuple[str, int, str]  # (address, port, protocol)
Listener = TcpListener | UdpListener


def parse_host_ports(text: str) -> list[tuple[int, int, str]]:
    """``"8080:80/tcp,53:53/udp"`` -> [(8080, 80, "TCP"), (53, 53, "UDP")]; bad entries skipped."""
    out = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        spec, _, proto = entry.partition("/")
        host, _, port = spec.partition(":")
        try:
            out.append((int(host), int(port or host), (proto or "tcp").upper()))
        except ValueError:
            log.warning("ignoring malformed %s entry %r", HOST_PORTS_ANNOTATION, entry)
    return out


def free_subnet(used: list[str]) -> str | None:
    taken = []
    for text in used:
        try:
            taken.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    for candidate in SERVICE_RANGE.subnets(new_prefix=SERVICE_PREFIX):
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    return None


def service_network_name(cluster: str, ns: str, svc_name: str) -> str:
    return f"kompy-{cluster}-svc-{ns}-{svc_name}"


def ensure_service_network(backend: ContainerBackend, ns: str, svc_name: str,
                           lock: threading.Lock) -> NetworkInfo:
    """The Service's own tiny network (found again after a restart by its name and labels):
    its gateway, a host address, is the Service's cluster IP."""
    net_name = service_network_name(backend.cluster, ns, svc_name)
    labels = backend.labels(ns, f"Service/{svc_name}", **{LABEL_SERVICE: svc_name})
    with lock:
        existing = backend.list_networks({LABEL_SERVICE: svc_name, "kompy.namespace": ns})
        info = next((n for n in existing if n.name == net_name), None)
        attempts = 0
        while info is None:
            subnet = free_subnet(backend.used_subnets())
            if subnet is None:
                raise KompyError(f"no free address left for Services in {SERVICE_RANGE}")
            gateway = str(next(ipaddress.ip_network(subnet).hosts()))
            try:
                info = backend.ensure_network(net_name, labels, subnet=subnet, gateway=gateway)
            except KompyError:
                attempts += 1
                if attempts > 5:
                    raise
    return info


def backends_for(endpoints: Obj | None, port: dict[str, Any]) -> list[tuple[str, int]]:
    """Ready ``(ip, port)`` pairs of an Endpoints object for one Service port."""
    out = []
    wanted = str(port.get("name") or "")
    for subset in (endpoints or {}).get("subsets") or []:
        ports = subset.get("ports") or []
        match = next((p for p in ports if str(p.get("name") or "") == wanted), None)
        if match is None and len(ports) == 1 and not wanted:
            match = ports[0]
        if match is None:
            continue
        for address in subset.get("addresses") or []:
            out.append((str(address.get("ip")), int(match.get("port"))))
    return sorted(out)


def ready_members(endpoints: Obj | None) -> list[tuple[str, str]]:
    """(ip, pod name) of every ready address of an Endpoints object."""
    out = set()
    for subset in (endpoints or {}).get("subsets") or []:
        for address in subset.get("addresses") or []:
            pod_name = str((address.get("targetRef") or {}).get("name") or "")
            if pod_name:
                out.add((str(address.get("ip")), pod_name))
    return sorted(out)


class PolicyView(Protocol):
    """What the proxy asks of the NetworkPolicies (kompy.cluster.netpol's controller)."""

    def permits(self, src: str, dst: str, protocol: str, port: int) -> bool: ...

    def knows(self, ip: str) -> bool:
        """Is ``ip`` a pod of this cluster?"""
        ...


@dataclass
class _Service:
    network: str = ""
    cluster_ip: str = ""
    listeners: dict[ListenKey, Listener] = field(default_factory=dict)
    errors: dict[ListenKey, str] = field(default_factory=dict)


class ServiceProxy(Controller):
    name = "service-proxy"

    def __init__(self, client: KubeClient, backend: ContainerBackend, informers: Informers,
                 recorder: EventRecorder, hosts: HostsTable,
                 policy: PolicyView | None = None) -> None:
        super().__init__(client, informers, recorder, workers=2)
        self.backend = backend
        self.policy = policy
        self.hosts = hosts
        self.services = informers["services"]
        self.endpoints = informers["endpoints"]
        self.nodes = informers["nodes"]
        self.services.add_handler(lambda obj, _d: self.queue.add(key_of(obj)))
        self.endpoints.add_handler(lambda obj, _d: self.queue.add(key_of(obj)))
        self.nodes.add_handler(self._on_node)
        self._state: dict[tuple[str, str], _Service] = {}
        # Services whose cluster IP another part of the daemon serves itself (kube-dns: the
        # cluster DNS server): their address is kept, but nothing listens for them here.
        self.reserved: set[tuple[str, str]] = set()
        self._local_addresses: dict[str, bool] = {}
        self._subnets: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}
        self._alloc = threading.Lock()

    # -- sync -----------------------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        ns, svc_name = cast(tuple[str, str], key)
        svc = self.services.get(ns, svc_name)
        state = self._state.setdefault((ns, svc_name), _Service())
        if svc is None or terminating(svc):
            self._remove(ns, svc_name, state)
            return
        spec = svc.get("spec") or {}
        endpoints = self.endpoints.get(ns, svc_name)
        if spec.get("clusterIP") == "None":  # headless: names resolve to the ready pods
            members = ready_members(endpoints)
            self.hosts.set_service(ns, svc_name, sorted({ip for ip, _ in members}), members)
            self._close_all(state)
            return
        if spec.get("type") == "ExternalName":
            return
        if not state.cluster_ip:
            self._ensure_network(ns, svc_name, state)
        svc = self._publish_addresses(svc, state)
        self.hosts.set_service(ns, svc_name, [state.cluster_ip])
        if (ns, svc_name) in self.reserved:
            self._close_all(state)  # another part of the daemon answers on its address
            return
        wanted = self._wanted_listeners(svc, state)
        for lkey in [k for k in state.listeners if k not in wanted]:
            state.listeners.pop(lkey).close()
        for lkey, (port, allow_any) in wanted.items():
            listener = state.listeners.get(lkey)
            if listener is None:
                listener = self._listen(svc, state, lkey, ns, allow_any)
                if listener is None:
                    continue
            listener.backends = backends_for(endpoints, port)
        self._publish_load_balancer(svc, state)

    def _ensure_network(self, ns: str, svc_name: str, state: _Service) -> None:
        info = ensure_service_network(self.backend, ns, svc_name, self._alloc)
        state.network = info.name
        state.cluster_ip = info.gateway

    def _publish_addresses(self, svc: Obj, state: _Service) -> Obj:
        """Write our cluster IP (and allocated node ports) into the Service's spec."""
        spec = svc.get("spec") or {}
        ports = [dict(p) for p in spec.get("ports") or []]
        changed = spec.get("clusterIP") != state.cluster_ip
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            used = self._used_node_ports(svc)
            for p in ports:
                if not p.get("nodePort"):
                    p["nodePort"] = nodeports.allocate(used, str(p.get("protocol") or "TCP"))
                    used.add(p["nodePort"])
                    changed = True
        if not changed:
            return svc
        # The ports list is written whole: only over the version it was computed from (a
        # user's change meanwhile makes this a Conflict, and the sync runs again on it).
        patch: dict[str, Any] = {"metadata": {"resourceVersion": meta(svc).get(
            "resourceVersion")}, "spec": {"clusterIP": state.cluster_ip,
                                          "clusterIPs": [state.cluster_ip], "ports": ports}}
        try:
            updated = self.client.patch("services", name(svc), namespace(svc), patch)
        except NotFound:
            return svc
        self.services.upsert_local(updated)
        return updated

    def _publish_load_balancer(self, svc: Obj, state: _Service) -> None:
        """``status.loadBalancer.ingress`` of a LoadBalancer Service: 127.0.0.1 once every
        port listens there (``<pending>`` until then, as a cloud load balancer being made);
        taken away again when the Service is no longer a LoadBalancer."""
        spec = svc.get("spec") or {}
        current = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        wanted: list[dict[str, str]] | None = None
        if spec.get("type") == "LoadBalancer":
            ports = [(LOOPBACK, int(p.get("port")), str(p.get("protocol") or "TCP"))
                     for p in spec.get("ports") or []
                     if str(p.get("protocol") or "TCP") in ("TCP", "UDP")]
            if ports and all(k in state.listeners for k in ports):
                wanted = LOAD_BALANCER
        elif current != LOAD_BALANCER:
            return  # not ours to clear
        if current == wanted:
            return
        try:
            updated = self.client.patch("services", name(svc), namespace(svc),
                                        {"status": {"loadBalancer": {"ingress": wanted}}},
                                        subresource="status")
        except NotFound:
            return
        self.services.upsert_local(updated)

    def _on_node(self, _node: Obj, _deleted: bool) -> None:
        for svc in self.services.list():
            if (svc.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer"):
                self.queue.add(key_of(svc))

    def _node_addresses(self) -> list[str]:
        """The nodes' InternalIPs a NodePort listens on besides 127.0.0.1: only this host's
        own addresses that face no other machine (loopback, or the gateway of one of the
        cluster's Docker networks)."""
        found = set()
        for node in self.nodes.list():
            for address in (node.get("status") or {}).get("addresses") or []:
                ip = str(address.get("address") or "")
                if address.get("type") == "InternalIP" and ip != LOOPBACK and \
                        self._listenable(ip):
                    found.add(ip)
        return sorted(found)

    def _listenable(self, ip: str) -> bool:
        if ip not in self._local_addresses:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                self._local_addresses[ip] = False
                return False
            if address.is_loopback:
                self._local_addresses[ip] = True
            else:
                try:
                    gateways = {n.gateway for n in self.backend.list_networks({})}
                except KompyError:
                    return False  # asked again next time
                self._local_addresses[ip] = ip in gateways
        return self._local_addresses[ip]

    def _used_node_ports(self, svc: Obj) -> set[int]:
        used = set()
        for other in self.services.list():
            if other is svc:
                continue
            for p in (other.get("spec") or {}).get("ports") or []:
                if p.get("nodePort"):
                    used.add(int(p["nodePort"]))
        return used

    def _wanted_listeners(self, svc: Obj, state: _Service
                          ) -> dict[ListenKey, tuple[dict[str, Any], bool]]:
        spec = svc.get("spec") or {}
        out: dict[ListenKey, tuple[dict[str, Any], bool]] = {}
        ports = [p for p in spec.get("ports") or []
                 if str(p.get("protocol") or "TCP") in ("TCP", "UDP")]
        node_addresses = ([LOOPBACK, *self._node_addresses()]
                          if spec.get("type") in ("NodePort", "LoadBalancer") else [])
        for p in ports:
            proto = str(p.get("protocol") or "TCP")
            # The API server's Service (default/kubernetes) serves every namespace's pods.
            out[(state.cluster_ip, int(p.get("port")), proto)] = (
                p, is_api_service(namespace(svc), name(svc)))
            if p.get("nodePort"):
                for address in node_addresses:
                    out[(address, int(p["nodePort"]), proto)] = (p, True)
            if spec.get("type") == "LoadBalancer":
                out[(LOOPBACK, int(p.get("port")), proto)] = (p, True)
        annotations = (svc.get("metadata") or {}).get("annotations") or {}
        for host_port, port, proto in parse_host_ports(annotations.get(HOST_PORTS_ANNOTATION, "")):
            match = next((p for p in ports if int(p.get("port")) == port
                          and str(p.get("protocol") or "TCP") == proto), None)
            if match is None:
                log.warning("%s/%s: %s names port %s/%s, which the Service does not have",
                            namespace(svc), name(svc), HOST_PORTS_ANNOTATION, port, proto)
                continue
            out[("127.0.0.1", host_port, proto)] = (match, True)
        return out

    def _listen(self, svc: Obj, state: _Service, lkey: ListenKey, ns: str, allow_any: bool
                ) -> Listener | None:
        allow = None if allow_any else self._namespace_filter(ns, lkey[0])
        kind = UdpListener if lkey[2] == "UDP" else TcpListener
        try:
            listener: Listener = kind(lkey[0], lkey[1], allow)
        except OSError as error:
            message = (f"cannot listen on {lkey[0]}:{lkey[1]}/{lkey[2].lower()}: "
                       f"{error.strerror or error}")
            if state.errors.get(lkey) != message:
                state.errors[lkey] = message
                self.recorder.warning(svc, "FailedToListen", message +
                                      " (is another program using this port? It, not this "
                                      "Service, answers there; tried again every 30 s)")
            self.queue.add_after(key_of(svc), 30.0)
            return None
        state.errors.pop(lkey, None)
        listener.permit = self._permit(lkey[2])
        state.listeners[lkey] = listener
        if allow_any:
            self.recorder.normal(svc, "Listening", f"Forwarding {lkey[0]}:{lkey[1]}/"
                                 f"{lkey[2].lower()} to {name(svc)}")
        return listener

    def _permit(self, protocol: str) -> Any:
        """The NetworkPolicies' say on relaying a peer to a backend (None without policies):
        a peer that is no pod is the node, always admitted."""
        policy = self.policy
        if policy is None:
            return None

        def permit(peer: str, backend: tuple[str, int]) -> bool:
            return not policy.knows(peer) or policy.permits(peer, backend[0], protocol,
                                                            backend[1])
        return permit

    def _namespace_filter(self, ns: str, own_ip: str) -> Any:
        self._namespace_subnet(ns)

        def allow(peer: str) -> bool:
            if peer in (own_ip, "127.0.0.1"):
                return True  # the host itself
            if self.policy is not None and self.policy.knows(peer):
                # A pod of another namespace: the policies decide per backend (a flow
                # between namespaces opens only where a policy admits it).
                return True
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                return False
            subnet = self._subnets.get(ns)
            if subnet is not None and address in subnet:
                return True
            # The namespace network may have been re-created with another subnet.
            self._subnets.pop(ns, None)
            try:
                subnet = self._namespace_subnet(ns)
            except KompyError:
                return False
            return subnet is not None and address in subnet
        return allow

    def _namespace_subnet(self, ns: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        if ns not in self._subnets:
            info = self.backend.ensure_network(f"kompy-{self.backend.cluster}-{ns}",
                                               self.backend.labels(ns, f"Namespace/{ns}"))
            if not info.subnet:
                return None
            self._subnets[ns] = ipaddress.ip_network(info.subnet, strict=False)
        return self._subnets[ns]

    # -- removal --------------------------------------------------------------------------------
    def _close_all(self, state: _Service) -> None:
        for listener in state.listeners.values():
            listener.close()
        state.listeners.clear()

    def _remove(self, ns: str, svc_name: str, state: _Service) -> None:
        self._close_all(state)
        self.hosts.set_service(ns, svc_name, [])
        net_name = state.network or service_network_name(self.backend.cluster, ns, svc_name)
        try:
            self.backend.remove_network(net_name)
        except KompyError as error:
            log.warning("could not remove network %s: %s", net_name, error)
        self._state.pop((ns, svc_name), None)

    def forget_namespace(self, ns: str) -> None:
        self._subnets.pop(ns, None)

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        for state in self._state.values():
            self._close_all(state)
