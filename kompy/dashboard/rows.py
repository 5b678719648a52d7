"""API objects -> the rows the dashboard's tables show: plain values, nothing secret.

Kept apart from the HTTP side so each column's rule is a unit-tested function. The columns
follow ``kubectl get`` (:mod:`kompy.client.tables`) where kubectl has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import Obj, ingress_paths, load_balancer_addresses, name, namespace
from kompy.client.tables import age, pod_status
from kompy.client.wellknown import REVISION

HOST_PORTS = "kompy.dev/host-ports"  # hostPort:port/proto entries the proxy publishes
# What an object's name (a DNS-1123 subdomain) or a container's may be: anything else a page
# sends is refused before it becomes part of an API path ("../secrets/x?" must never be one).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def valid_name(text: str) -> bool:
    return bool(_NAME.match(text))


@dataclass(frozen=True)
class PodRow:
    namespace: str
    name: str
    ready: str
    status: str
    restarts: int
    age: str
    node: str
    containers: tuple[str, ...]
    cpu: str = ""
    memory: str = ""

    @property
    def healthy(self) -> bool:
        return self.status in ("Running", "Succeeded", "Completed")


def pod_row(pod: Obj, usage: tuple[int, int] | None = None) -> PodRow:
    ready, status, restarts = pod_status(pod)
    spec = pod.get("spec") or {}
    cpu, memory = ("", "") if usage is None else (f"{usage[0]}m", _mebibytes(usage[1]))
    return PodRow(namespace(pod), name(pod), ready, status, restarts,
                  age((pod.get("metadata") or {}).get("creationTimestamp")),
                  str(spec.get("nodeName") or ""),
                  tuple(str(c.get("name")) for c in spec.get("containers") or []), cpu, memory)


def _mebibytes(count: int) -> str:
    return f"{count / (1024 * 1024):.0f}Mi"


@dataclass(frozen=True)
class WorkloadRow:
    kind: str           # Deployment, StatefulSet, DaemonSet, Job, CronJob
    namespace: str
    name: str
    ready: str          # "2/3"
    state: str          # complete, progressing, paused, failed, ...
    revision: str
    images: tuple[str, ...]
    replicas: int | None = None   # set for the kinds that scale

    @property
    def scalable(self) -> bool:
        return self.kind in ("Deployment", "StatefulSet")

    @property
    def restartable(self) -> bool:
        return self.kind in ("Deployment", "StatefulSet", "DaemonSet")

    @property
    def undoable(self) -> bool:
        return self.kind == "Deployment"

    @property
    def triggerable(self) -> bool:
        return self.kind == "CronJob"

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def _images(template: Obj) -> tuple[str, ...]:
    containers = (template.get("spec") or {}).get("containers") or []
    return tuple(str(c.get("image") or "") for c in containers)


def _condition(obj: Obj, kind: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}


def deployment_state(dep: Obj) -> str:
    """As ``kubectl rollout status`` reads a Deployment."""
    spec, st = dep.get("spec") or {}, dep.get("status") or {}
    want = int(spec.get("replicas", 1))
    if spec.get("paused"):
        return "paused"
    if _condition(dep, "Progressing").get("reason") == "ProgressDeadlineExceeded":
        return "failed"
    if int(st.get("observedGeneration") or 0) < int((dep.get("metadata") or {}).get(
            "generation") or 0):
        return "progressing"
    if int(st.get("updatedReplicas") or 0) < want:
        return f"rolling ({st.get('updatedReplicas') or 0} of {want} updated)"
    if int(st.get("replicas") or 0) > int(st.get("updatedReplicas") or 0):
        return "rolling (old replicas terminating)"
    if int(st.get("availableReplicas") or 0) < int(st.get("updatedReplicas") or 0):
        return "rolling (waiting for available)"
    return "complete"


def statefulset_state(sts: Obj) -> str:
    spec, st = sts.get("spec") or {}, sts.get("status") or {}
    want = int(spec.get("replicas", 1))
    if st.get("updateRevision") and st.get("currentRevision") != st.get("updateRevision"):
        return f"rolling ({st.get('updatedReplicas') or 0} of {want} updated)"
    if int(st.get("readyReplicas") or 0) < want:
        return "progressing"
    return "complete"


def daemonset_state(ds: Obj) -> str:
    st = ds.get("status") or {}
    desired = int(st.get("desiredNumberScheduled") or 0)
    if int(st.get("updatedNumberScheduled") or 0) < desired:
        return f"rolling ({st.get('updatedNumberScheduled') or 0} of {desired} updated)"
    if int(st.get("numberAvailable") or 0) < desired:
        return "progressing"
    return "complete"


def job_state(job: Obj) -> str:
    for kind, word in (("Complete", "complete"), ("Failed", "failed"),
                       ("Suspended", "suspended")):
        if _condition(job, kind).get("status") == "True":
            return word
    return "running"


def workload_row(kind: str, obj: Obj) -> WorkloadRow:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    meta = obj.get("metadata") or {}
    ns, nm = namespace(obj), name(obj)
    if kind == "Deployment":
        want = int(spec.get("replicas", 1))
        return WorkloadRow(kind, ns, nm, f"{st.get('readyReplicas') or 0}/{want}",
                           deployment_state(obj), str((meta.get("annotations") or {}).get(
                               REVISION, "")), _images(spec.get("template") or {}), want)
    if kind == "StatefulSet":
        want = int(spec.get("replicas", 1))
        revision = str(st.get("updateRevision") or "").rpartition("-")[2]
        return WorkloadRow(kind, ns, nm, f"{st.get('readyReplicas') or 0}/{want}",
                           statefulset_state(obj), revision,
                           _images(spec.get("template") or {}), want)
    if kind == "DaemonSet":
        return WorkloadRow(kind, ns, nm, f"{st.get('numberReady') or 0}/"
                           f"{st.get('desiredNumberScheduled') or 0}", daemonset_state(obj),
                           str(meta.get("generation") or ""),
                           _images(spec.get("template") or {}))
    if kind == "Job":
        return WorkloadRow(kind, ns, nm, f"{st.get('succeeded') or 0}/"
                           f"{spec.get('completions', 1)}", job_state(obj), "",
                           _images(spec.get("template") or {}))
    template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    last = st.get("lastScheduleTime")
    state = "suspended" if spec.get("suspend") else f"schedule {spec.get('schedule', '')}"
    if last:
        state += f", last run {age(last)} ago"
    return WorkloadRow(kind, ns, nm, f"{len(st.get('active') or [])} active", state, "",
                       _images(template))


WORKLOAD_RESOURCES = (("Deployment", "deployments"), ("StatefulSet", "statefulsets"),
                      ("DaemonSet", "daemonsets"), ("CronJob", "cronjobs"), ("Job", "jobs"))


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class ServiceRow:
    kind: str           # Service or Ingress
    namespace: str
    name: str
    detail: str         # type and ports, or hosts
    links: tuple[Link, ...] = field(default_factory=tuple)


def service_row(svc: Obj) -> ServiceRow:
    spec = svc.get("spec") or {}
    ports = ", ".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                      for p in spec.get("ports") or [])
    detail = f"{spec.get('type', 'ClusterIP')} {spec.get('clusterIP') or ''} {ports}".strip()
    return ServiceRow("Service", namespace(svc), name(svc), detail, tuple(service_links(svc)))


def service_links(svc: Obj) -> list[Link]:
    """Where the Service answers on this machine: the built-in cluster's published host ports,
    and a LoadBalancer's addresses."""
    links: dict[str, Link] = {}
    annotation = str(((svc.get("metadata") or {}).get("annotations") or {}).get(
        HOST_PORTS) or "")
    for entry in filter(None, (e.strip() for e in annotation.split(","))):
        host_port, _, rest = entry.partition(":")
        if host_port.isdigit() and rest.upper().endswith("/TCP"):
            url = f"http://127.0.0.1:{host_port}"
            links[url] = Link(url, url)
    spec = svc.get("spec") or {}
    for host in load_balancer_addresses(svc):
        for port in spec.get("ports") or []:
            if host and str(port.get("protocol") or "TCP") == "TCP":
                url = f"http://{_host(str(host))}:{port.get('port')}"
                links[url] = Link(url, url)
    return list(links.values())


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def ingress_row(ing: Obj) -> ServiceRow:
    spec = ing.get("spec") or {}
    urls = [f"{'https' if tls else 'http'}://{host or '127.0.0.1'}{path}"
            for host, path, tls in ingress_paths(ing)]
    links = [Link(url, url) for url in urls]
    address = ", ".join(load_balancer_addresses(ing))
    detail = f"class {spec.get('ingressClassName') or '<none>'}" + (
        f", address {address}" if address else "")
    return ServiceRow("Ingress", namespace(ing), name(ing), detail, tuple(links))


@dataclass(frozen=True)
class EventRow:
    namespace: str
    last_seen: str
    sort_key: str
    type: str
    reason: str
    object: str
    message: str
    count: int

    @property
    def warning(self) -> bool:
        return self.type == "Warning"


def event_row(ev: Obj) -> EventRow:
    inv = ev.get("involvedObject") or {}
    last = str(ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {})
               .get("creationTimestamp") or "")
    return EventRow(namespace(ev), age(last[:19] + "Z" if len(last) > 20 else last), last,
                    str(ev.get("type") or "Normal"), str(ev.get("reason") or ""),
                    f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
                    str(ev.get("message") or ""), int(ev.get("count") or 1))


def events_newest_first(events: list[Obj]) -> list[EventRow]:
    return sorted((event_row(e) for e in events), key=lambda r: r.sort_key, reverse=True)


@dataclass(frozen=True)
class DataRow:
    """A ConfigMap with its values, or a Secret with its keys alone."""
    namespace: str
    name: str
    type: str
    keys: tuple[str, ...]
    values: tuple[str, ...] = ()   # ConfigMaps only
    age: str = ""


SHOWN_VALUE = 2000  # characters of a ConfigMap value shown; the rest is cut


def configmap_row(cm: Obj) -> DataRow:
    data = {**(cm.get("data") or {}), **{k: "<binary>" for k in cm.get("binaryData") or {}}}
    keys = tuple(sorted(data))
    values = tuple(_cut(str(data[k])) for k in keys)
    return DataRow(namespace(cm), name(cm), "ConfigMap", keys, values,
                   age((cm.get("metadata") or {}).get("creationTimestamp")))


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE] + " …"


def secret_row(secret: Obj) -> DataRow:
    """The keys of ``data`` and ``stringData``: their values are never read here."""
    keys = tuple(sorted({*(secret.get("data") or {}), *(secret.get("stringData") or {})}))
    return DataRow(namespace(secret), name(secret), str(secret.get("type") or "Opaque"), keys,
                   (), age((secret.get("metadata") or {}).get("creationTimestamp")))


@dataclass(frozen=True)
class NamespaceRow:
    name: str
    phase: str
    age: str


def namespace_row(ns: Obj) -> NamespaceRow:
    return NamespaceRow(name(ns), str((ns.get("status") or {}).get("phase") or "Active"),
                        age((ns.get("metadata") or {}).get("creationTimestamp")))
