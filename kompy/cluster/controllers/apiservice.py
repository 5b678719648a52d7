"""The ``kubernetes`` Service of the ``default`` namespace: the API server, seen from pods.

As kube-apiserver's own bootstrap controller keeps it: a ClusterIP Service ``kubernetes``
(port 443, named ``https``) without a selector, and Endpoints naming where the API server
listens (here the node's loopback: the Service proxy runs on the node and relays a pod's
connection to the cluster IP there). Pods find it as ``kubernetes.default.svc`` or through
``KUBERNETES_SERVICE_HOST``/``PORT`` (the kubelet sets them in every container), and every
namespace may reach it (proxier.py). Whenever its cluster IP changes, ``on_address`` is told,
so the API server's certificate names that address (tls.py): clients in pods check it.
https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable

from kompy.client import Conflict, KubeClient
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj
from kompy.cluster.controllers.base import Controller

NAMESPACE, NAME = "default", "kubernetes"
PORT = 443
KEY = (NAMESPACE, NAME)


def is_api_service(namespace: str, name: str) -> bool:
    return (namespace, name) == KEY


class ApiServiceController(Controller):
    name = "kubernetes-service"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 api_port: int, on_address: Callable[[str], None] | None = None) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.api_port = api_port
        self.on_address = on_address
        self._told = ""
        self.services = informers["services"]
        self.endpoints = informers["endpoints"]
        for informer in (self.services, self.endpoints):
            informer.add_handler(self._on_change)
        self.queue.add(KEY)

    def _on_change(self, obj: Obj, _deleted: bool) -> None:
        meta = obj.get("metadata") or {}
        if is_api_service(str(meta.get("namespace") or ""), str(meta.get("name") or "")):
            self.queue.add(KEY)

    def sync(self, key: Hashable) -> None:
        if not self.services.synced.is_set():
            self.queue.add_after(KEY, 0.2)
            return
        service = self.services.get(NAMESPACE, NAME)
        if service is None:
            with contextlib.suppress(Conflict):
                service = self.client.create({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {
                        "component": "apiserver", "provider": "kubernetes"}},
                    "spec": {"type": "ClusterIP", "sessionAffinity": "None", "ports": [
                        {"name": "https", "port": PORT, "protocol": "TCP",
                         "targetPort": self.api_port}]}})
        subsets = [{"addresses": [{"ip": "127.0.0.1"}],
                    "ports": [{"name": "https", "port": self.api_port, "protocol": "TCP"}]}]
        endpoints = self.endpoints.get(NAMESPACE, NAME)
        if endpoints is None:
            with contextlib.suppress(Conflict):
                self.client.create({"apiVersion": "v1", "kind": "Endpoints",
                                    "metadata": {"name": NAME, "namespace": NAMESPACE,
                                                 "labels": {"endpointslice.kubernetes.io/"
                                                            "skip-mirror": "true"}},
                                    "subsets": subsets})
        elif endpoints.get("subsets") != subsets:
            self.client.patch("endpoints", NAME, NAMESPACE, {"subsets": subsets})
        address = str(((service or {}).get("spec") or {}).get("clusterIP") or "")
        if address and address != self._told and self.on_address is not None:
            self.on_address(address)
            self._told = address
