"""A PolicyModel as iptables chains (filter table), in iptables-restore's rule syntax.

One cluster owns the chain ``<prefix>`` (jumped to from DOCKER-USER, which FORWARD runs first)
and one chain per distinct allow list and direction, shared by the pods that admit the same.
A packet forwarded between two pods, or from a pod to the world, walks:

1. ``ESTABLISHED,RELATED`` -> ACCEPT: replies and the rest of a flow already admitted (as
   every policy implementation does, only new connections are judged).
2. source isolated for egress -> its ``<prefix>-E<n>``: a matching allow RETURNs, else DROP.
3. destination isolated for ingress -> ``<prefix>-I<n>``: likewise.
4. Both passed and a policy judged the flow (one end isolated) -> ACCEPT, but only between
   the cluster's own pod networks, so a flow between two namespaces that a policy admits
   gets past Docker's inter-bridge isolation while the engine's other networks stay shut.
5. Otherwise RETURN: Docker's own rules decide (same bridge: accept; another namespace's
   bridge: Docker's isolation drops it).
"""

from __future__ import annotations

from kompy.cluster.netpol.model import Allow, PolicyModel, network

Chains = dict[str, list[str]]  # chain name -> its rules (without "-A <chain>")


def render(model: PolicyModel, prefix: str, pod_networks: list[str]) -> Chains:
    """Every chain of the cluster, the main one first; {} when no pod is isolated (then the
    cluster needs no rules at all)."""
    if not model.ingress and not model.egress:
        return {}
    main: list[str] = ["-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
    chains: Chains = {prefix: main}
    for letter, flag, table in (("E", "-s", model.egress), ("I", "-d", model.ingress)):
        peer_flag = "-d" if flag == "-s" else "-s"
        # Pods that admit the same (the replicas of one app, as a rule) share one chain:
        # the rules grow with pods + distinct allow lists, not pods x peers.
        shared: dict[tuple[Allow, ...], str] = {}
        for ip in sorted(ip for ip in table if _ipv4(ip)):
            chain = shared.get(table[ip])
            if chain is None:
                chain = shared[table[ip]] = f"{prefix}-{letter}{len(shared)}"
                chains[chain] = [*(_allow_rule(a, peer_flag) for a in table[ip]
                                   if _ipv4(a.peer)), "-j DROP"]
            main.append(f"{flag} {_host(ip)} -j {chain}")
    for ip in sorted(ip for ip in model.egress if _ipv4(ip)):
        main.extend(f"-s {_host(ip)} -d {net} -j ACCEPT" for net in pod_networks)
    for ip in sorted(ip for ip in model.ingress if _ipv4(ip)):
        main.extend(f"-s {net} -d {_host(ip)} -j ACCEPT" for net in pod_networks)
    return chains


def _ipv4(address: str | None) -> bool:
    """iptables speaks IPv4 (Docker's bridges here are IPv4): IPv6 blocks are left out."""
    return address is None or network(address).version == 4


def _host(ip: str) -> str:
    return f"{ip}/{network(ip).max_prefixlen}"


def _allow_rule(allow: Allow, peer_flag: str) -> str:
    parts: list[str] = []
    if allow.peer is not None:
        parts.append(f"{peer_flag} {allow.peer}")
    if allow.protocol is not None:
        proto = allow.protocol.lower()
        parts.append(f"-p {proto}")
        if allow.port is not None:
            ports = str(allow.port) if not allow.end_port else f"{allow.port}:{allow.end_port}"
            parts.append(f"-m {proto} --dport {ports}")
    parts.append("-j RETURN")
    return " ".join(parts)
