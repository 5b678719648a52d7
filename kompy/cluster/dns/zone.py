"""The cluster's DNS zone: what each name under ``cluster.local`` answers, as plain records.

The records are those of the Kubernetes DNS specification
(https://github.com/kubernetes/dns/blob/master/docs/specification.md), as CoreDNS's
``kubernetes`` plugin serves them:

- ``<svc>.<ns>.svc.<zone>``: A = the ClusterIP; for a headless Service one A per ready
  endpoint (every endpoint with ``publishNotReadyAddresses``: the Endpoints controller lists
  them as ready), NXDOMAIN when it has none (as CoreDNS); for an ExternalName Service a CNAME
  to the external name, followed when this zone or the upstream can resolve it.
- ``<hostname>.<svc>.<ns>.svc.<zone>``: A = that endpoint of a headless Service, where the
  hostname is the pod's ``hostname`` (StatefulSet pods, ``hostname`` + ``subdomain``), else
  its IP with dashes (``10-1-2-3``).
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>``: SRV per named port (the Service's port and
  name for a ClusterIP Service; each endpoint's port and name for a headless one), with the
  targets' A records as additional records.
- ``<a-b-c-d>.<ns>.pod.<zone>``: A = a.b.c.d (CoreDNS's ``pods insecure``, kubeadm's default).
- PTR for ClusterIPs and headless endpoints; ``dns-version.<zone>`` TXT ``1.1.0``.

A name under the zone that does not exist is NXDOMAIN; one that exists without records of
the asked type answers no records (NODATA, NOERROR): a resolver must not give up on a name
that has an A record because its AAAA query failed. Names outside the zone are marked for
the upstream resolver. No DNS library here (:mod:`.wire` is the adapter): records are
presentation-format text.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field

TTL = 5  # CoreDNS's kubernetes plugin default
SCHEMA_VERSION = "1.1.0"
MAX_CHASE = 8  # CNAME hops followed inside the zone


@dataclass(frozen=True)
class Record:
    """One resource record: an absolute lower-case name without the final dot, a type and
    its data in presentation format (names in the data end with a dot)."""

    name: str
    type: str
    data: str
    ttl: int = TTL


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    protocol: str  # TCP | UDP | SCTP


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str = ""  # the Endpoints address' hostname (pod hostname + matching subdomain)
    ports: tuple[Port, ...] = ()

    @property
    def label(self) -> str:
        """Its name under the Service: the hostname, else the IP with dashes."""
        return self.hostname or self.ip.replace(".", "-").replace(":", "-")


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    kind: str  # "ClusterIP" (any type with a cluster IP) | "Headless" | "ExternalName"
    cluster_ip: str = ""
    external_name: str = ""
    ports: tuple[Port, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()


@dataclass
class Answer:
    """What the zone says about one question."""

    rcode: str = "NOERROR"  # NOERROR | NXDOMAIN
    records: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    authoritative: bool = True  # False: not ours, ask the upstream (``forward``)
    forward: bool = False
    chase: str = ""  # a CNAME target outside the zone, to resolve upstream and append


class Zone:
    """Services and their endpoints, by name; updated by the informers' handlers, read by
    the server's threads (the tables are replaced under a lock, never changed in place)."""

    def __init__(self, domain: str = "cluster.local", dns_ip: str = "") -> None:
        self.domain = domain.strip(".").lower()
        self.dns_ip = dns_ip
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], ServiceEntry] = {}
        self._namespaces: dict[str, int] = {}
        self._reverse: dict[str, list[str]] = {}
        self.serial = 1

    # -- updates --------------------------------------------------------------------------------
    def set(self, entry: ServiceEntry) -> None:
        with self._lock:
            key = (entry.namespace, entry.name)
            if self._services.get(key) == entry:
                return
            services = dict(self._services)
            services[key] = entry
            self._replace(services)

    def remove(self, namespace: str, name: str) -> None:
        with self._lock:
            if (namespace, name) not in self._services:
                return
            services = dict(self._services)
            del services[(namespace, name)]
            self._replace(services)

    def _replace(self, services: dict[tuple[str, str], ServiceEntry]) -> None:
        namespaces: dict[str, int] = {}
        reverse: dict[str, list[str]] = {}
        for entry in services.values():
            namespaces[entry.namespace] = namespaces.get(entry.namespace, 0) + 1
            fqdn = self.service_name(entry.namespace, entry.name)
            if entry.kind == "ClusterIP" and entry.cluster_ip:
                reverse.setdefault(entry.cluster_ip, []).append(fqdn)
            if entry.kind == "Headless":
                for ep in entry.endpoints:
                    if ep.hostname:
                        reverse.setdefault(ep.ip, []).append(f"{ep.hostname}.{fqdn}")
        self._services, self._namespaces, self._reverse = services, namespaces, reverse
        self.serial += 1

    def service_name(self, namespace: str, name: str) -> str:
        return f"{name}.{namespace}.svc.{self.domain}"

    # -- questions ------------------------------------------------------------------------------
    def lookup(self, qname: str, qtype: str) -> Answer:
        name = qname.rstrip(".").lower()
        if name.endswith((".in-addr.arpa", ".ip6.arpa")):
            return self._reverse_lookup(name, qtype)
        if name != self.domain and not name.endswith("." + self.domain):
            return Answer(authoritative=False, forward=True)
        answer = self._lookup(name, qtype)
        for _ in range(MAX_CHASE):
            last = answer.records[-1] if answer.records else None
            if qtype in ("CNAME", "ANY") or last is None or last.type != "CNAME":
                break
            target = last.data.rstrip(".").lower()
            if target != self.domain and not target.endswith("." + self.domain):
                answer.chase = target
                break
            more = self._lookup(target, qtype)
            answer.records += more.records
            answer.additional += more.additional
            if not more.records:
                break
        return answer

    def soa(self) -> Record:
        """The zone's SOA, for the authority section of empty answers (negative caching)."""
        return Record(self.domain, "SOA", f"ns.dns.{self.domain}. hostmaster.{self.domain}. "
                      f"{self.serial} 7200 1800 86400 {TTL}")

    def _lookup(self, name: str, qtype: str) -> Answer:
        with self._lock:
            services, namespaces = self._services, self._namespaces
        labels = name[: -len(self.domain)].rstrip(".").split(".") if name != self.domain else []
        if not labels:
            if qtype == "SOA":
                return Answer(records=[self.soa()])
            if qtype == "NS":
                return Answer(records=[Record(name, "NS", f"ns.dns.{self.domain}.")])
            return Answer()
        if labels == ["dns-version"]:
            return Answer(records=[Record(name, "TXT", f'"{SCHEMA_VERSION}"')]
                          if qtype in ("TXT", "ANY") else [])
        if labels == ["ns", "dns"] and self.dns_ip:
            return Answer(records=[Record(name, "A", self.dns_ip)]
                          if qtype in ("A", "ANY") else [])
        if labels[-1] == "pod":
            return self._pod(name, labels[:-1], qtype)
        if labels[-1] != "svc":
            return Answer(rcode="NXDOMAIN")
        labels = labels[:-1]
        if len(labels) == 0:
            return Answer()
        if len(labels) == 1:
            return Answer() if labels[0] in namespaces else Answer(rcode="NXDOMAIN")
        entry = services.get((labels[-1], labels[-2]))
        if entry is None:
            return Answer(rcode="NXDOMAIN")
        rest = labels[:-2]
        if not rest:
            return self._service(name, entry, qtype)
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(name, entry, rest[0][1:], rest[1][1:], qtype)
        if len(rest) == 1 and entry.kind == "Headless":
            found = [ep for ep in entry.endpoints if ep.label == rest[0]]
            if found:
                return Answer(records=[Record(name, "A", ep.ip) for ep in found
                                       if qtype in ("A", "ANY")])
        return Answer(rcode="NXDOMAIN")

    def _service(self, name: str, entry: ServiceEntry, qtype: str) -> Answer:
        if entry.kind == "ExternalName":
            target = entry.external_name.rstrip(".").lower()
            return Answer(records=[Record(name, "CNAME", f"{target}.")])
        if entry.kind == "Headless":
            if not entry.endpoints:
                return Answer(rcode="NXDOMAIN")
            if qtype == "SRV":
                return self._srv_records(name, entry, None, None)
            ips = sorted({ep.ip for ep in entry.endpoints}, key=_ip_order)
        else:
            if qtype == "SRV":
                return self._srv_records(name, entry, None, None)
            ips = [entry.cluster_ip]
        return Answer(records=_addresses(name, ips, qtype))

    def _srv(self, name: str, entry: ServiceEntry, port: str, proto: str, qtype: str
             ) -> Answer:
        answer = self._srv_records(name, entry, port, proto)
        if not answer.records:
            return Answer(rcode="NXDOMAIN")
        if qtype not in ("SRV", "ANY"):
            return Answer()  # the name exists (NODATA)
        return answer

    def _srv_records(self, name: str, entry: ServiceEntry, port: str | None,
                     proto: str | None) -> Answer:
        fqdn = self.service_name(entry.namespace, entry.name)

        def wanted(p: Port) -> bool:
            if port is None:  # SRV of the Service's own name: every named port
                return bool(p.name)
            return p.name.lower() == port and p.protocol.lower() == proto

        answer = Answer()
        if entry.kind == "ClusterIP":
            for p in entry.ports:
                if wanted(p):
                    answer.records.append(Record(name, "SRV", f"0 100 {p.port} {fqdn}."))
            if answer.records:
                answer.additional.append(Record(fqdn, "A", entry.cluster_ip))
        elif entry.kind == "Headless":
            for ep in sorted(entry.endpoints, key=lambda e: _ip_order(e.ip)):
                target = f"{ep.label}.{fqdn}"
                for p in ep.ports:
                    if wanted(p):
                        answer.records.append(Record(name, "SRV", f"0 100 {p.port} {target}."))
                        answer.additional.append(Record(target, "A", ep.ip))
        answer.additional = list(dict.fromkeys(answer.additional))
        return answer

    def _pod(self, name: str, labels: list[str], qtype: str) -> Answer:
        if len(labels) != 2:
            return Answer() if len(labels) < 2 else Answer(rcode="NXDOMAIN")
        try:
            ip = ipaddress.IPv4Address(labels[0].replace("-", "."))
        except ValueError:
            return Answer(rcode="NXDOMAIN")
        return Answer(records=_addresses(name, [str(ip)], qtype))

    def _reverse_lookup(self, name: str, qtype: str) -> Answer:
        ip = _reverse_ip(name)
        with self._lock:
            names = self._reverse.get(ip, []) if ip else []
        if not names:
            return Answer(authoritative=False, forward=True)
        return Answer(records=[Record(name, "PTR", f"{n}.") for n in sorted(names)]
                      if qtype in ("PTR", "ANY") else [])


def _addresses(name: str, ips: list[str], qtype: str) -> list[Record]:
    out = []
    for ip in ips:
        version = ipaddress.ip_address(ip).version
        if qtype in ("A", "ANY") and version == 4:
            out.append(Record(name, "A", ip))
        elif qtype in ("AAAA", "ANY") and version == 6:
            out.append(Record(name, "AAAA", ip))
    return out


def _ip_order(ip: str) -> tuple[int, int]:
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


def _reverse_ip(name: str) -> str:
    """``4.3.2.1.in-addr.arpa`` -> ``1.2.3.4`` (and the nibble form of IPv6); "" if neither."""
    try:
        if name.endswith(".in-addr.arpa"):
            parts = name[: -len(".in-addr.arpa")].split(".")
            if len(parts) != 4:
                return ""
            return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32:
            return ""
        text = "".join(reversed(nibbles))
        return str(ipaddress.IPv6Address(":".join(text[i:i + 4] for i in range(0, 32, 4))))
    except ValueError:
        return ""
