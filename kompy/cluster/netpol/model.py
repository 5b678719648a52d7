"""NetworkPolicies compiled into what each pod may receive and send, keyed by pod IP.

The semantics are networking.k8s.io/v1's (kubernetes.io/docs/concepts/services-networking/
network-policies/):

- A pod selected by a policy whose ``policyTypes`` include Ingress is *isolated for ingress*:
  only what the union of those policies' ingress rules admits reaches it (no rule at all:
  nothing, the default deny). Likewise for Egress. A pod no policy selects is not isolated.
- ``policyTypes`` absent: Ingress, plus Egress when ``spec.egress`` has rules (the API's
  defaulting).
- A rule without ``from``/``to`` admits every peer; without ``ports``, every port.
- Peers: ``podSelector`` alone (pods of the policy's namespace), ``namespaceSelector`` alone
  (every pod of the matching namespaces), both in one peer (the matching pods of the
  matching namespaces), ``ipBlock`` (its CIDR less its ``except`` blocks).
- A named port is resolved against the *destination* pod's container ports (name and
  protocol), so one rule may mean a different number on each pod; ``endPort`` widens a
  numeric port to a range.
- Every namespace carries ``kubernetes.io/metadata.name: <name>``, as the API server sets it.

Kompy's own rule: namespaces are isolated from each other (one Docker bridge each, see
docs/cluster.md). A flow between two namespaces opens only where a policy selecting one of
its ends admits it, so a ``namespaceSelector`` rule does what it says and nothing else opens.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import Obj
from kompy.client.selectors import matches_labels, selector_from_match

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = ("TCP", "UDP", "SCTP")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)
def network(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr, strict=False)


@dataclass(frozen=True)
class PodRef:
    """What a policy needs of a pod."""

    ip: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    ports: tuple[tuple[str, str, int], ...] = ()  # (name, protocol, containerPort)

    def named_port(self, port_name: str, protocol: str) -> int | None:
        return next((number for name_, proto, number in self.ports
                     if name_ == port_name and proto == protocol), None)


@dataclass(frozen=True)
class Allow:
    """One admitted (peer, protocol, port range); None is "every"."""

    peer: str | None  # a CIDR
    protocol: str | None = None
    port: int | None = None
    end_port: int | None = None

    def matches(self, ip: str, protocol: str, port: int) -> bool:
        if self.protocol is not None and self.protocol != protocol:
            return False
        if self.port is not None and not self.port <= port <= (self.end_port or self.port):
            return False
        if self.peer is None:
            return True
        try:
            return ipaddress.ip_address(ip) in network(self.peer)
        except ValueError:
            return False

    def sort_key(self) -> tuple[str, str, int, int]:
        return (self.peer or "", self.protocol or "", self.port or 0, self.end_port or 0)


@dataclass
class PolicyModel:
    """Per pod IP, the pods isolated in each direction and what they admit."""

    pods: dict[str, PodRef] = field(default_factory=dict)
    ingress: dict[str, tuple[Allow, ...]] = field(default_factory=dict)
    egress: dict[str, tuple[Allow, ...]] = field(default_factory=dict)
    policies: int = 0

    def permits(self, src: str, dst: str, protocol: str, port: int) -> bool:
        """May ``src`` open a connection to ``dst:port``? (What the Service proxy asks for a
        client and a backend: the answer the iptables rules give a direct connection.)"""
        if src in self.egress and not any(a.matches(dst, protocol, port)
                                          for a in self.egress[src]):
            return False
        if dst in self.ingress and not any(a.matches(src, protocol, port)
                                           for a in self.ingress[dst]):
            return False
        source, target = self.pods.get(src), self.pods.get(dst)
        if source is not None and target is not None and source.namespace != target.namespace:
            return src in self.egress or dst in self.ingress
        return True


def compile_policies(pods: Iterable[Obj], namespaces: Iterable[Obj],
                     policies: Iterable[Obj]) -> PolicyModel:
    refs = [ref for ref in (pod_ref(p) for p in pods) if ref is not None]
    ns_labels = {str((ns.get("metadata") or {}).get("name") or ""): namespace_labels(ns)
                 for ns in namespaces}
    model = PolicyModel(pods={r.ip: r for r in refs})
    ingress: dict[str, set[Allow]] = {}
    egress: dict[str, set[Allow]] = {}
    for policy in policies:
        meta = policy.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        model.policies += 1
        ns = str(meta.get("namespace") or "default")
        spec = policy.get("spec") or {}
        types = policy_types(spec)
        selector = selector_from_match(spec.get("podSelector") or {})
        targets = [r for r in refs if r.namespace == ns and matches_labels(selector, r.labels)]
        if not targets:
            continue
        # Peers are resolved once per rule (not per target: that would be quadratic).
        if "Ingress" in types:
            rules = [(_peers(rule.get("from"), ns, refs, ns_labels).addresses(),
                      _port_specs(rule.get("ports"))) for rule in spec.get("ingress") or []]
            for target in targets:
                allowed = ingress.setdefault(target.ip, set())
                for peers, specs in rules:
                    allowed.update(_ingress_allows(peers, specs, target))
        if "Egress" in types:
            out: set[Allow] = set()
            for rule in spec.get("egress") or []:
                out.update(_egress_allows(rule, ns, refs, ns_labels))
            for target in targets:
                egress.setdefault(target.ip, set()).update(out)
    model.ingress = {ip: _sorted(a) for ip, a in ingress.items()}
    model.egress = {ip: _sorted(a) for ip, a in egress.items()}
    return model


def _sorted(allows: set[Allow]) -> tuple[Allow, ...]:
    return tuple(sorted(allows, key=Allow.sort_key))


def policy_types(spec: Mapping[str, Any]) -> set[str]:
    declared = spec.get("policyTypes")
    if declared:
        return {str(t) for t in declared}
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def namespace_labels(ns: Obj) -> dict[str, str]:
    meta = ns.get("metadata") or {}
    return {**(meta.get("labels") or {}), NAMESPACE_NAME_LABEL: str(meta.get("name") or "")}


def pod_ref(pod: Obj) -> PodRef | None:
    """A pod that has an address on a pod network (not host-network, not finished)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ip = str(status.get("podIP") or "")
    if not ip or spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    meta = pod.get("metadata") or {}
    ports = tuple((str(p.get("name")), str(p.get("protocol") or "TCP"), int(p["containerPort"]))
                  for c in spec.get("containers") or [] for p in c.get("ports") or []
                  if p.get("name") and p.get("containerPort"))
    return PodRef(ip=ip, namespace=str(meta.get("namespace") or "default"),
                  name=str(meta.get("name") or ""), labels=dict(meta.get("labels") or {}),
                  ports=ports)


@dataclass(frozen=True)
class _Peers:
    """What one rule's ``from``/``to`` list selects: pods and address blocks; ``everyone``
    when the list is empty or absent."""

    everyone: bool
    pods: tuple[PodRef, ...] = ()
    cidrs: tuple[str, ...] = ()

    def addresses(self) -> list[str | None]:
        if self.everyone:
            return [None]
        found = {f"{p.ip}/{network(p.ip).max_prefixlen}" for p in self.pods} | set(self.cidrs)
        return list(sorted(found))

    def candidate_pods(self, refs: list[PodRef]) -> list[PodRef]:
        """Pods a named port may be resolved on (for egress): the selected pods, and pods
        whose address lies in one of the blocks."""
        if self.everyone:
            return refs
        inside = [r for r in refs if any(_contains(c, r.ip) for c in self.cidrs)]
        return list({r.ip: r for r in [*self.pods, *inside]}.values())


def _contains(cidr: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in network(cidr)
    except ValueError:
        return False


def _peers(items: list[Any] | None, policy_ns: str, refs: list[PodRef],
           ns_labels: Mapping[str, Mapping[str, str]]) -> _Peers:
    if not items:
        return _Peers(everyone=True)
    pods: dict[str, PodRef] = {}
    cidrs: list[str] = []
    for peer in items:
        block = peer.get("ipBlock")
        if block:
            cidrs.extend(block_cidrs(str(block.get("cidr") or ""), block.get("except") or []))
            continue
        pod_sel = peer.get("podSelector")
        ns_sel = peer.get("namespaceSelector")
        if ns_sel is None:
            spaces = {policy_ns}
        else:
            reqs = selector_from_match(ns_sel)
            spaces = {n for n, labels in ns_labels.items() if matches_labels(reqs, labels)}
        reqs = selector_from_match(pod_sel or {})
        for ref in refs:
            if ref.namespace in spaces and matches_labels(reqs, ref.labels):
                pods[ref.ip] = ref
    return _Peers(everyone=False, pods=tuple(pods.values()), cidrs=tuple(cidrs))


def block_cidrs(cidr: str, excepts: list[Any]) -> list[str]:
    """An ipBlock as disjoint CIDRs: the block less each ``except`` (exact, no negation
    needed in the rules)."""
    try:
        remaining = [network(cidr)]
    except ValueError:
        return []  # the API validates ipBlocks; a bad one admits nothing
    for text in excepts:
        try:
            hole = network(str(text))
        except ValueError:
            continue
        out: list[IPNetwork] = []
        for net in remaining:
            if net.version == hole.version and hole.subnet_of(net):  # type: ignore[arg-type]
                out.extend(net.address_exclude(hole))  # type: ignore[arg-type]
            elif not (net.version == hole.version and net.subnet_of(hole)):  # type: ignore[arg-type]
                out.append(net)
        remaining = out
    return sorted(str(n) for n in remaining)


def _port_specs(rule_ports: list[Any] | None) -> list[tuple[str, int | str | None, int | None]]:
    """(protocol, port or name or None, endPort) of a rule's ports; [] means every port."""
    out: list[tuple[str, int | str | None, int | None]] = []
    for p in rule_ports or []:
        protocol = str(p.get("protocol") or "TCP").upper()
        port = p.get("port")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        end = p.get("endPort")
        out.append((protocol, port, int(end) if isinstance(port, int) and end else None))
    return out


def _numeric(spec: tuple[str, int | str | None, int | None], dest: PodRef | None
             ) -> Allow | None:
    """One port spec as an Allow without a peer; a named port is looked up on ``dest``."""
    protocol, port, end = spec
    if port is None:
        return Allow(None, protocol)
    if isinstance(port, str):
        number = dest.named_port(port, protocol) if dest is not None else None
        return None if number is None else Allow(None, protocol, number)
    return Allow(None, protocol, int(port), end)


def _ingress_allows(peers: list[str | None], specs: list[tuple[str, int | str | None, int | None]],
                    target: PodRef) -> set[Allow]:
    """One ingress rule's allows for one target (its named ports looked up on the target)."""
    if not specs:
        return {Allow(peer) for peer in peers}
    ports = [a for a in (_numeric(s, target) for s in specs) if a is not None]
    return {Allow(peer, a.protocol, a.port, a.end_port) for peer in peers for a in ports}


def _egress_allows(rule: Mapping[str, Any], ns: str, refs: list[PodRef],
                   ns_labels: Mapping[str, Mapping[str, str]]) -> set[Allow]:
    peers = _peers(rule.get("to"), ns, refs, ns_labels)
    specs = _port_specs(rule.get("ports"))
    if not specs:
        return {Allow(peer) for peer in peers.addresses()}
    out: set[Allow] = set()
    for spec in specs:
        if isinstance(spec[1], str):  # named: a number per destination pod
            for dest in peers.candidate_pods(refs):
                a = _numeric(spec, dest)
                if a is not None:
                    out.add(Allow(f"{dest.ip}/{network(dest.ip).max_prefixlen}", a.protocol,
                                  a.port))
            continue
        a = _numeric(spec, None)
        assert a is not None
        out.update(Allow(peer, a.protocol, a.port, a.end_port) for peer in peers.addresses())
    return out
