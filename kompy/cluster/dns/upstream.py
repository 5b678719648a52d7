"""Where names outside the cluster's zone are asked: the node's resolvers.

As CoreDNS's ``forward . /etc/resolv.conf``: the nameservers of the node's resolver file (the
kubelet's ``resolvConf``, /etc/resolv.conf unless kubelet.yaml says otherwise). The daemon runs
on the host, so a loopback resolver there (systemd-resolved's 127.0.0.53) is reachable, unlike
from a pod. The file is read again when it changes (a laptop changing networks), at most once
a second. The cluster DNS server's own address is never an upstream (a loop).
"""

from __future__ import annotations

import os
import threading
import time

from kompy.cluster.kubelet.resolvconf import parse_resolv_conf

RECHECK_SECONDS = 1.0


class Upstream:
    def __init__(self, path: str, exclude: tuple[str, ...] = (), timeout: float = 2.0,
                 port: int = 53) -> None:
        self.path = path
        self.exclude = set(exclude)
        self.timeout = timeout
        self.port = port
        self._lock = threading.Lock()
        self._servers: list[tuple[str, int]] = []
        self._mtime: float | None = None
        self._checked = 0.0

    def servers(self) -> list[tuple[str, int]]:
        now = time.monotonic()
        with self._lock:
            if now - self._checked >= RECHECK_SECONDS or self._mtime is None:
                self._checked = now
                self._reload()
            return list(self._servers)

    def _reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError:
            self._servers, self._mtime = [], -1.0
            return
        if mtime == self._mtime:
            return
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                conf = parse_resolv_conf(handle.read())
        except OSError:
            return
        self._mtime = mtime
        self._servers = [(server, self.port) for server in conf.nameservers
                         if server not in self.exclude]
