"""Service name resolution for pods: an ``/etc/hosts`` file per pod, kept current in place.

Each pod gets its own hosts file (its name -> its IP, as the kubelet writes it, plus every
Service: ``name``, ``name.ns``, ``name.ns.svc`` and ``name.ns.svc.cluster.local`` for its
own namespace, the qualified forms for others). Docker leaves a bind-mounted ``/etc/hosts``
alone, and the file is rewritten in place (same inode) because a bind mount of a single file
pins the inode: a rename would leave containers reading the old file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

DOMAIN = "svc.cluster.local"
_HEADER = ("# Kubernetes-managed hosts file (kompy). Rewritten when Services change.\n"
           "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
           "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
           "ff02::2\tip6-allrouters\n")


class HostsTable:
    def __init__(self) -> None:
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
        if changed:
            for listener in self._listeners:
                listener()

    def render(self, namespace: str, pod_ip: str, hostname: str) -> str:
        lines = [_HEADER]
        if pod_ip:
            lines.append(f"{pod_ip}\t{hostname}\n")
        with self._lock:
            items = sorted(self._services.items())
            members = dict(self._members)
        for (ns, name), ips in items:
            names = _names(name, ns, namespace)
            for ip in ips:
                lines.append(f"{ip}\t{' '.join(names)}\n")
            for ip, host in members.get((ns, name), ()):
                lines.append(f"{ip}\t{' '.join(_names(f'{host}.{name}', ns, namespace))}\n")
        return "".join(lines)


def _names(name: str, ns: str, own_namespace: str) -> list[str]:
    names = [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.{DOMAIN}"]
    if ns == own_namespace:
        names.insert(0, name)
    return names


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
