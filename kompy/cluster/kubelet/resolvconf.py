"""A pod's ``/etc/resolv.conf``, as the kubelet forms it from ``dnsPolicy`` and ``dnsConfig``.

The rules are the kubelet's (``pkg/kubelet/network/dns/dns.go``,
https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-dns-policy):

- ``ClusterFirst`` (the default): the cluster DNS server is the only nameserver; the search
  list is ``<ns>.svc.<domain> svc.<domain> <domain>`` followed by the node's own search
  domains; ``options ndots:5``. A ``hostNetwork`` pod falls back to ``Default``.
- ``ClusterFirstWithHostNet``: ``ClusterFirst``, for ``hostNetwork`` pods too.
- ``Default``: the node's resolver configuration (``resolvConf``, /etc/resolv.conf).
- ``None``: nothing but ``dnsConfig``.

``dnsConfig`` is then merged in: its nameservers and searches appended (duplicates dropped),
its options merged by name (the pod's value wins). The result is cut to the limits of the
resolver (3 nameservers; 32 search domains, 2048 characters), with a warning each, as the
kubelet's DNSConfigForming event. Without a cluster DNS server (kompy could not serve one),
``ClusterFirst`` falls back to ``Default`` with the kubelet's MissingClusterDNS warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_CHARS = 2048
HOST_RESOLV_CONF = "/etc/resolv.conf"


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def parse_resolv_conf(text: str) -> ResolvConf:
    """nameserver, search (or domain) and options lines; comments and the rest ignored."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not line:
            continue
        key, values = line[0], line[1:]
        if key == "nameserver" and values:
            servers.append(values[0])
        elif key in ("search", "domain"):
            searches = [v.rstrip(".") for v in values]  # the last one wins, as in glibc
        elif key == "options":
            options.extend(values)
    return ResolvConf(tuple(servers), tuple(searches), tuple(options))


def read_resolv_conf(path: str) -> ResolvConf:
    try:
        return parse_resolv_conf(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ResolvConf()


@dataclass(frozen=True)
class DnsSettings:
    """The node's DNS settings: the kubelet's ``clusterDNS``, ``clusterDomain`` and
    ``resolvConf``. ``cluster_dns`` is empty when kompy serves no cluster DNS."""

    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: str = HOST_RESOLV_CONF

    def host(self) -> ResolvConf:
        return read_resolv_conf(self.resolv_conf) if self.resolv_conf else ResolvConf()


@dataclass
class PodDns:
    """What a pod's resolv.conf holds. ``managed`` False: leave the file to the engine
    (``Default`` on the node's own /etc/resolv.conf: Docker writes what a container on this
    machine gets, its embedded server on user-defined networks)."""

    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    managed: bool = True
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (reason, message)

    def render(self) -> str:
        lines = []
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        lines += [f"nameserver {server}" for server in self.nameservers]
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "".join(f"{line}\n" for line in lines)


def pod_dns(pod: dict[str, Any], settings: DnsSettings) -> PodDns:
    spec = pod.get("spec") or {}
    ns = str((pod.get("metadata") or {}).get("namespace") or "default")
    policy = str(spec.get("dnsPolicy") or "ClusterFirst")
    host_network = bool(spec.get("hostNetwork"))
    kind = _kind(policy, host_network)
    out = PodDns()
    if kind == "cluster" and not settings.cluster_dns:
        out.warnings.append(("MissingClusterDNS", (
            f"pod: \"{(pod.get('metadata') or {}).get('name')}_{ns}\". kubelet does not have "
            "ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. "
            "Falling back to \"Default\" policy.")))
        kind = "host"
    if kind == "cluster":
        domain = settings.cluster_domain
        host = settings.host()
        out.nameservers = list(settings.cluster_dns)
        out.searches = _unique([f"{ns}.svc.{domain}", f"svc.{domain}", domain,
                                *host.searches])
        out.options = ["ndots:5"]
    elif kind == "host":
        host = settings.host()
        if settings.resolv_conf == HOST_RESOLV_CONF and not spec.get("dnsConfig"):
            out.managed = False  # the engine's own resolver configuration
            return out
        out.nameservers = list(host.nameservers)
        out.searches = list(host.searches)
        out.options = list(host.options)
    config = spec.get("dnsConfig") or {}
    if isinstance(config, dict):
        out.nameservers = _unique([*out.nameservers, *map(str, config.get("nameservers") or [])])
        out.searches = _unique([*out.searches, *map(str, config.get("searches") or [])])
        out.options = _merge_options(out.options, config.get("options") or [])
    _fit_limits(out)
    return out


def _kind(policy: str, host_network: bool) -> str:
    if policy == "None":
        return "none"
    if policy == "ClusterFirstWithHostNet":
        return "cluster"
    if policy == "ClusterFirst":
        return "host" if host_network else "cluster"
    return "host"  # Default


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _merge_options(current: list[str], extra: list[Any]) -> list[str]:
    """Options by name, the pod's ``dnsConfig`` value replacing the base one."""
    merged: dict[str, str | None] = {}
    for option in current:
        key, _, text = option.partition(":")
        merged[key] = text or None
    for item in extra:
        if isinstance(item, dict) and item.get("name"):
            raw = item.get("value")
            merged[str(item["name"])] = None if raw is None else str(raw)
    return [key if value is None else f"{key}:{value}" for key, value in merged.items()]


def _fit_limits(out: PodDns) -> None:
    if len(out.nameservers) > MAX_NAMESERVERS:
        out.nameservers = out.nameservers[:MAX_NAMESERVERS]
        out.warnings.append(("DNSConfigForming", "Nameserver limits were exceeded, some "
                             "nameservers have been omitted, the applied nameserver line is: "
                             + " ".join(out.nameservers)))
    searches = out.searches
    if len(searches) > MAX_SEARCH_PATHS or len(" ".join(searches)) > MAX_SEARCH_CHARS:
        kept: list[str] = []
        for domain in searches[:MAX_SEARCH_PATHS]:
            if len(" ".join([*kept, domain])) > MAX_SEARCH_CHARS:
                break
            kept.append(domain)
        out.searches = kept
        out.warnings.append(("DNSConfigForming", "Search Line limits were exceeded, some "
                             "search paths have been omitted, the applied search line is: "
                             + " ".join(kept)))
