"""``kompy dev``'s published ports on a cluster without host ports: port-forwards.

Each published Compose port (``127.0.0.1:<published>``) listens locally and relays every
connection through the API's standard port-forward (kompy/client/portforward.py) to a ready
pod of the Service, as ``kubectl port-forward svc/NAME`` does, with one difference: kubectl
picks one pod at the start and stops when it goes, while here each connection picks a ready
pod from the Service's Endpoints, round robin, so forwards survive rollouts and restarts
(Skaffold's port-forward re-connects the same way).
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable
from typing import Any

from kompy.client import KubeClient, NotFound
from kompy.client import portforward as pf
from kompy.errors import ClusterError, KompyError


class ServiceForward:
    """127.0.0.1:``local`` -> the Service ``service``'s port ``port`` in ``namespace``."""

    def __init__(self, client: KubeClient, namespace: str, service: str, port: int,
                 local: int) -> None:
        self.client = client
        self.namespace = namespace
        self.service = service
        self.port = port
        self.local = local
        self._turn = itertools.count()

    def dial(self) -> pf.Connection:
        pod, target = self.pick()
        return pf.dial(self.client, pod, self.namespace, target)

    def pick(self) -> tuple[str, int]:
        """A ready pod of the Service and the port its endpoint serves the Service port on."""
        try:
            service = self.client.get("services", self.service, self.namespace)
            endpoints = self.client.get("endpoints", self.service, self.namespace)
        except NotFound as error:
            raise ClusterError(f"service {self.service} is gone") from error
        name = ""
        for entry in (service.get("spec") or {}).get("ports") or []:
            if int(entry.get("port") or 0) == self.port:
                name = str(entry.get("name") or "")
        choices: list[tuple[str, int]] = []
        for subset in endpoints.get("subsets") or []:
            ports = subset.get("ports") or []
            match = [p for p in ports if str(p.get("name") or "") == name] or ports[:1]
            if not match:
                continue
            for address in subset.get("addresses") or []:
                ref = address.get("targetRef") or {}
                if ref.get("kind") == "Pod" and ref.get("name"):
                    choices.append((str(ref["name"]), int(match[0]["port"])))
        if not choices:
            raise ClusterError(f"service {self.service} has no ready pod")
        choices.sort()
        return choices[next(self._turn) % len(choices)]


def start_forwards(client: KubeClient, namespace: str, urls: list[Any],
                   warn: Callable[[str], None], stop: threading.Event) -> list[Any]:
    """Listen on every published TCP port and forward it; the URLs that are served (a port
    another program holds is warned about and skipped; UDP cannot be port-forwarded)."""
    from kompy.kubectl.portforward import listen, serve

    served = []
    for url in urls:
        if url.protocol != "tcp":
            warn(f"{url.service}: {url.protocol} port {url.host_port} cannot be forwarded "
                 "(Kubernetes' port-forward carries TCP only)")
            continue
        forward = ServiceForward(client, namespace, url.k8s_service or url.service, url.port,
                                 url.host_port)
        try:
            sock = listen(url.host_port)
        except KompyError as error:
            warn(f"{url.service}: {error.message}")
            continue

        def log(line: str, service: str = url.service) -> None:
            if line.startswith("error:"):
                warn(f"{service}: {line.removeprefix('error: ')}")
        threading.Thread(target=_serve_until_stopped, args=(serve, sock, forward, log, stop),
                         name=f"dev-forward-{url.host_port}", daemon=True).start()
        served.append(url)
    return served


def _serve_until_stopped(serve: Any, sock: socket.socket, forward: ServiceForward,
                         log: Callable[[str], None], stop: threading.Event) -> None:
    try:
        serve(sock, forward.dial, forward.port, log, stop)
    finally:
        sock.close()
