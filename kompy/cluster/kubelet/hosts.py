"""A pod's ``/etc/hosts``, as the kubelet writes it, kept current in place.

Upstream's kubelet writes only the pod's own names and its ``hostAliases``
(``managedHostsFileContent`` in pkg/kubelet/kubelet_pods.go): localhost, the pod IP with its
hostname (``<hostname>.<subdomain>.<ns>.svc.<domain>`` first when the pod has a
``subdomain``), then "# Entries added by HostAliases." and one line per alias. Service names
come from the cluster DNS (:mod:`kompy.cluster.dns`).

When kompy serves no cluster DNS (the daemon may not bind port 53), every Service is added
too, as kompy did before it had one, so pods still find Services by name: ``name`` (in its
own namespace), ``name.ns``, ``name.ns.svc``, ``name.ns.svc.<domain>``, and a headless
Service's ready pods as ``<pod hostname>.<service>``. The proxy fills the table either way.

Docker leaves a bind-mounted ``/etc/hosts`` alone, and the file is rewritten in place (same
inode) because a bind mount of a single file pins the inode: a rename would leave containers
reading the old file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kompy.cluster.kubelet.backend import Mount
from kompy.cluster.kubelet.resolvconf import DnsSettings, pod_dns

_HEADER = ("# Kubernetes-managed hosts file.\n"
           "127.0.0.1\tlocalhost\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n"
           "fe00::0\tip6-localnet\n"
           "fe00::0\tip6-mcastprefix\n"
           "fe00::1\tip6-allnodes\n"
           "fe00::2\tip6-allrouters\n")


class HostsTable:
    """The node's naming settings (``settings``) and, for the hosts-file fallback, the
    Services' addresses."""

    def __init__(self, settings: DnsSettings | None = None) -> None:
        self.settings = settings or DnsSettings()
        # Service names go into hosts files only when no cluster DNS server answers them.
        self.services_in_hosts = not self.settings.cluster_dns
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], tuple[str, ...]] = {}
        self._members: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def set_service(self, namespace: str, name: str, ips: list[str],
                    members: list[tuple[str, str]] | None = None) -> None:
        """The addresses of a Service; ``members`` (ip, pod hostname) of a headless Service
        also get ``<hostname>.<service>...`` names, as StatefulSet pods do in Kubernetes DNS."""
        key, value = (namespace, name), tuple(ips)
        pods = tuple(sorted(members or ()))
        with self._lock:
            before = (self._services.get(key), self._members.get(key))
            if not value and not pods:
                self._services.pop(key, None)
                self._members.pop(key, None)
            else:
                self._services[key] = value
                self._members[key] = pods
            changed = before != (self._services.get(key), self._members.get(key))
        if changed and self.services_in_hosts:
            for listener in self._listeners:
                listener()

    def service_address(self, namespace: str, name: str) -> str:
        """The address the Service proxy serves a Service at ("" until it does)."""
        with self._lock:
            ips = self._services.get((namespace, name)) or ()
        return ips[0] if ips else ""

    def render(self, pod: dict[str, Any], pod_ip: str) -> str:
        spec = pod.get("spec") or {}
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        hostname = pod_hostname(pod)
        lines = [_HEADER]
        if pod_ip:
            subdomain = str(spec.get("subdomain") or "")
            if subdomain:
                domain = f"{subdomain}.{namespace}.svc.{self.settings.cluster_domain}"
                lines.append(f"{pod_ip}\t{hostname}.{domain}\t{hostname}\n")
            else:
                lines.append(f"{pod_ip}\t{hostname}\n")
        if self.services_in_hosts:
            lines += self._service_lines(namespace)
        aliases = [a for a in spec.get("hostAliases") or []
                   if isinstance(a, dict) and a.get("ip") and a.get("hostnames")]
        if aliases:
            lines.append("\n# Entries added by HostAliases.\n")
            for alias in aliases:
                lines.append(f"{alias['ip']}\t{chr(9).join(map(str, alias['hostnames']))}\n")
        return "".join(lines)

    def _service_lines(self, namespace: str) -> list[str]:
        with self._lock:
            items = sorted(self._services.items())
            members = dict(self._members)
        lines = ["\n# Services (kompy: no cluster DNS server is running).\n"] if items else []
        domain = self.settings.cluster_domain
        for (ns, name), ips in items:
            names = _names(name, ns, namespace, domain)
            for ip in ips:
                lines.append(f"{ip}\t{' '.join(names)}\n")
            for ip, host in members.get((ns, name), ()):
                lines.append(f"{ip}\t{' '.join(_names(f'{host}.{name}', ns, namespace, domain))}\n")
        return lines


def pod_hostname(pod: dict[str, Any]) -> str:
    """The pod's hostname: ``spec.hostname``, else its name (at most 63 characters)."""
    spec = pod.get("spec") or {}
    name = str((pod.get("metadata") or {}).get("name") or "")
    return str(spec.get("hostname") or name)[:63].rstrip("-.")


def _names(name: str, ns: str, own_namespace: str, domain: str) -> list[str]:
    names = [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{domain}"]
    if ns == own_namespace:
        names.insert(0, name)
    return names


def write_name_files(folder: Path, pod: dict[str, Any], pod_ip: str, table: HostsTable
                     ) -> list[tuple[str, str]]:
    """Write the pod's ``hosts`` (and ``resolv.conf`` unless the engine's own is used) into
    its folder; the warnings (reason, message) the pod's DNS settings gave."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_in_place(str(folder / "hosts"), table.render(pod, pod_ip))
    dns = pod_dns(pod, table.settings)
    if dns.managed:
        write_in_place(str(folder / "resolv.conf"), dns.render())
    return dns.warnings


def name_mounts(folder: Path, pod: dict[str, Any], table: HostsTable, mounts: list[Mount]
                ) -> list[Mount]:
    """The binds of those files into a container, but not over what the pod mounts there."""
    taken = {m.target for m in mounts}
    out = []
    if "/etc/hosts" not in taken:
        out.append(Mount("bind", str(folder / "hosts"), "/etc/hosts", read_only=True))
    if "/etc/resolv.conf" not in taken and pod_dns(pod, table.settings).managed:
        out.append(Mount("bind", str(folder / "resolv.conf"), "/etc/resolv.conf",
                         read_only=True))
    return out


def write_in_place(path: str, text: str) -> None:
    """Replace the file's content without replacing the file (see the module docstring)."""
    data = text.encode()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        current = os.read(fd, len(data) + 1)
        if current == data:
            return
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
