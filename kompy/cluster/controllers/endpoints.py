"""Endpoints controller: a Service's Endpoints list the pods its selector matches.

Ready pods go to ``addresses``, the others (with an IP) to ``notReadyAddresses``, so the
proxy only ever balances over ready pods (every pod is in ``addresses`` for a Service with
``publishNotReadyAddresses``). An address carries the pod's ``hostname`` when the pod's
``subdomain`` is the Service (its DNS name under the Service). A named ``targetPort`` is
resolved per pod from its containers' ports; pods that resolve differently land in
different subsets, as upstream. Services without a selector keep the Endpoints their user writes.
https://kubernetes.io/docs/concepts/services-networking/service/#endpoints
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import (
    Obj,
    labels,
    map_selector_matches,
    meta,
    name,
    namespace,
    pod_ready,
    pod_terminal,
    terminating,
    uid,
)
from kompy.cluster.controllers.base import Controller


def resolve_port(pod: Obj, target: Any) -> int | None:
    if target is None:
        return None
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p.get("containerPort"))
    return None


def subsets(service: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    # A Service that publishes not-ready addresses lists every pod as ready (upstream's
    # tolerateUnreadyEndpoints): its names resolve before the pods are ready, which
    # StatefulSet peers need to find each other.
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in sorted(pods, key=name):
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or terminating(pod) or pod_terminal(pod):
            continue
        resolved: list[tuple[str, int, str]] = []
        for p in ports:
            port = resolve_port(pod, p.get("targetPort", p.get("port")))
            if port is None:
                break
            resolved.append((str(p.get("name") or ""), port, str(p.get("protocol") or "TCP")))
        else:
            group = groups.setdefault(tuple(resolved), {"addresses": [], "notReadyAddresses": []})
            pod_spec = pod.get("spec") or {}
            address: dict[str, Any] = {"ip": ip}
            # The pod's own DNS name under the Service (<hostname>.<service>.<ns>.svc...):
            # when its subdomain names this Service, as upstream's endpoints controller does.
            if pod_spec.get("hostname") and pod_spec.get("subdomain") == name(service):
                address["hostname"] = str(pod_spec["hostname"])
            address["nodeName"] = pod_spec.get("nodeName")
            address["targetRef"] = {"kind": "Pod", "name": name(pod),
                                    "namespace": namespace(pod), "uid": uid(pod)}
            ready = tolerate or pod_ready(pod)
            group["addresses" if ready else "notReadyAddresses"].append(address)
    out = []
    for ports_key, group in groups.items():
        subset: dict[str, Any] = {}
        subset["ports"] = [
            {**({"name": n} if n else {}), "port": port, "protocol": proto}
            for n, port, proto in ports_key]
        for kind in ("addresses", "notReadyAddresses"):
            if group[kind]:
                subset[kind] = group[kind]
        out.append(subset)
    return out


class EndpointsController(Controller):
    name = "endpoints"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=2)
        self.services = informers["services"]
        self.endpoints = informers["endpoints"]
        self.pods = informers["pods"]
        self.services.add_handler(lambda obj, _d: self.queue.add(key_of(obj)))
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        for svc in self.services.list(namespace(pod)):
            if map_selector_matches((svc.get("spec") or {}).get("selector"), labels(pod)):
                self.queue.add(key_of(svc))

    def sync(self, key: Hashable) -> None:
        ns, svc_name = cast(tuple[str, str], key)
        svc = self.services.get(ns, svc_name)
        current = self.endpoints.get(ns, svc_name)
        if svc is None or terminating(svc):
            if current is not None and not terminating(current):
                with contextlib.suppress(NotFound):
                    self.client.delete("endpoints", svc_name, ns)
            return
        selector = (svc.get("spec") or {}).get("selector")
        if not selector:
            return
        pods = [p for p in self.pods.list(ns) if map_selector_matches(selector, labels(p))]
        wanted = subsets(svc, pods)
        obj_meta: dict[str, Any] = {"name": svc_name, "namespace": ns,
                                    "labels": dict(meta(svc).get("labels") or {})}
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": obj_meta,
                               "subsets": wanted}
        if current is None:
            try:
                created = self.client.create(obj)
            except Conflict:
                current = self.client.get("endpoints", svc_name, ns)
            else:
                self.endpoints.upsert_local(created)
                return
        if (current.get("subsets") or []) == wanted:
            return
        obj_meta["resourceVersion"] = meta(current).get("resourceVersion")
        obj_meta["uid"] = meta(current).get("uid")
        self.endpoints.upsert_local(self.client.replace(obj))
