"""The ``kompy describe`` layouts of the kinds that do not run pods: Service, ConfigMap,
Secret, Namespace, Node, PersistentVolumeClaim (kubectl's describe.go, as kubectl 1.33 lays them
out), and kubectl's generic describer for every other kind."""

from __future__ import annotations

import base64
import re
from typing import Any

from kompy.client import KubeClient, tables
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.client.quantity import int_value, milli_value
from kompy.errors import KompyError
from kompy.kubectl import describe_policy as policy
from kompy.kubectl.describe_common import (
    Writer,
    annotations_block,
    events_block,
    go,
    labels_block,
    when,
)

Events = list[Obj] | None


def _meta_head(w: Writer, obj: Obj) -> None:
    meta = obj.get("metadata") or {}
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Namespace:\t{meta.get('namespace')}\n")


def service(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    w = Writer()
    _meta_head(w, obj)
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    selector = spec.get("selector") or {}
    w(0, f"Selector:\t{','.join(f'{k}={v}' for k, v in sorted(selector.items())) or '<none>'}\n")
    w(0, f"Type:\t{spec.get('type') or 'ClusterIP'}\n")
    if spec.get("ipFamilyPolicy"):
        w(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    w(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}\n")
    w(0, f"IP:\t{spec.get('clusterIP') or ''}\n")
    w(0, f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}\n")
    if spec.get("externalIPs"):
        w(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("externalName"):
        w(0, f"External Name:\t{spec['externalName']}\n")
    endpoints = _endpoints(client, meta)
    for port in spec.get("ports") or []:
        name = port.get("name") or "<unset>"
        protocol = port.get("protocol") or "TCP"
        w(0, f"Port:\t{name}\t{port.get('port')}/{protocol}\n")
        w(0, f"TargetPort:\t{port.get('targetPort', port.get('port'))}/{protocol}\n")
        if port.get("nodePort"):
            w(0, f"NodePort:\t{name}\t{port['nodePort']}/{protocol}\n")
        w(0, f"Endpoints:\t{endpoints.get(port.get('name') or '', '') or '<none>'}\n")
    w(0, f"Session Affinity:\t{spec.get('sessionAffinity') or 'None'}\n")
    if spec.get("externalTrafficPolicy"):
        w(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        w(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    events_block(w, events)
    return w.text()


def _endpoints(client: KubeClient, meta: Obj) -> dict[str, str]:
    """Port name -> ``ip:port,ip:port`` of the ready addresses (at most 3, then ``+ N more``)."""
    try:
        found = client.get("endpoints", str(meta.get("name")), meta.get("namespace"))
    except ApiError:
        return {}
    by_port: dict[str, list[str]] = {}
    for subset in found.get("subsets") or []:
        for port in subset.get("ports") or []:
            for address in subset.get("addresses") or []:
                by_port.setdefault(port.get("name") or "", []).append(
                    f"{address.get('ip')}:{port.get('port')}")
    out = {}
    for name, items in by_port.items():
        shown = ",".join(items[:3])
        out[name] = shown + (f" + {len(items) - 3} more..." if len(items) > 3 else "")
    return out


def configmap(client: KubeClient, obj: Obj, events: Events) -> str:
    meta = obj.get("metadata") or {}
    w = Writer()
    _meta_head(w, obj)
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, "\nData\n====\n")
    for key in sorted(obj.get("data") or {}):   # (sorted, as kubectl does since 1.34)
        w(0, f"{key}:\n----\n{obj['data'][key]}\n\n")
    w(0, "\nBinaryData\n====\n")
    for key in sorted(obj.get("binaryData") or {}):
        w(0, f"{key}: {_decoded_size(obj['binaryData'][key])} bytes\n")
    w(0, "\n")
    events_block(w, events)
    return w.text()


def secret(client: KubeClient, obj: Obj, events: Events) -> str:
    """Keys and sizes only: a value never reaches the screen."""
    meta = obj.get("metadata") or {}
    w = Writer()
    _meta_head(w, obj)
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"\nType:\t{obj.get('type') or 'Opaque'}\n")
    w(0, "\nData\n====\n")
    data = dict(obj.get("data") or {})
    for key, value in (obj.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    for key in sorted(data):
        w(0, f"{key}:\t{_decoded_size(data[key])} bytes\n")
    return w.text()


def _decoded_size(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value)))
    except ValueError:
        return len(str(value))


def namespace(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"Status:\t{status.get('phase') or 'Active'}\n")
    if status.get("conditions"):
        w(0, "Conditions:\n")
        w(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
        w(1, "----\t------\t------------------\t------\t-------\n")
        for c in status["conditions"]:
            w(1, f"{c.get('type')}\t{c.get('status')}\t{when(c.get('lastTransitionTime'))}\t"
                 f"{c.get('reason') or ''}\t{c.get('message') or ''}\n")
    # kubectl leaves a part out when it cannot list its kind (a cluster without them).
    quotas = _listed(client, "resourcequotas", str(meta.get("name")))
    if quotas is not None:
        w(0, "\n")
        policy.quotas_block(w, quotas)
    ranges = _listed(client, "limitranges", str(meta.get("name")))
    if ranges is not None:
        w(0, "\n")
        policy.limit_ranges_block(w, ranges)
    return w.text()


def _listed(client: KubeClient, plural: str, ns: str) -> list[Obj] | None:
    try:
        return list(client.list(plural, ns).get("items") or [])
    except KompyError:
        return None


def node(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    roles = sorted(k.split("/", 1)[1] for k in meta.get("labels") or {}
                   if k.startswith("node-role.kubernetes.io/"))
    w(0, f"Roles:\t{','.join(roles) or '<none>'}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"CreationTimestamp:\t{when(meta.get('creationTimestamp'))}\n")
    taints = [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
              for t in spec.get("taints") or []]
    w(0, "Taints:\t" + ("\n\t".join(taints) or "<none>") + "\n")
    w(0, f"Unschedulable:\t{go(bool(spec.get('unschedulable')))}\n")
    if status.get("conditions"):
        w(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\t"
             "Message\n")
        w(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in status["conditions"]:
            w(1, f"{c.get('type')} \t{c.get('status')} \t{when(c.get('lastHeartbeatTime'))} \t"
                 f"{when(c.get('lastTransitionTime'))} \t{c.get('reason') or ''} \t"
                 f"{c.get('message') or ''}\n")
    w(0, "Addresses:\n")
    for address in status.get("addresses") or []:
        w(1, f"{address.get('type')}:\t{address.get('address')}\n")
    for key, title in (("capacity", "Capacity"), ("allocatable", "Allocatable")):
        if status.get(key):
            w(0, f"{title}:\n")
            for name in sorted(status[key]):
                w(0, f"  {name}:\t{status[key][name]}\n")
    info = status.get("nodeInfo") or {}
    w(0, "System Info:\n")
    for key, title in (("machineID", "Machine ID"), ("systemUUID", "System UUID"),
                       ("bootID", "Boot ID"), ("kernelVersion", "Kernel Version"),
                       ("osImage", "OS Image"), ("operatingSystem", "Operating System"),
                       ("architecture", "Architecture"),
                       ("containerRuntimeVersion", "Container Runtime Version"),
                       ("kubeletVersion", "Kubelet Version"),
                       ("kubeProxyVersion", "Kube-Proxy Version")):
        w(0, f"  {title}:\t{info.get(key) or ''}\n")
    if spec.get("podCIDR"):
        w(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("providerID"):
        w(0, f"ProviderID:\t{spec['providerID']}\n")
    _node_resources(client, w, obj)
    events_block(w, events)
    return w.text()


def _node_resources(client: KubeClient, w: Writer, node_obj: Obj) -> None:
    """kubectl's describeNodeResource: the node's running pods with their requests and
    limits, as parts of what the node can allocate, and the totals."""
    status = node_obj.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    try:
        pods = [p for p in client.list("pods", None)["items"]
                if (p.get("spec") or {}).get("nodeName") == node_obj["metadata"]["name"]
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    except ApiError:
        w(0, "Pods:\tnot authorized\n")
        return
    total = {"cpu": 1.0 * milli_value(allocatable.get("cpu", 0)),
             "memory": 1.0 * int_value(allocatable.get("memory", 0)),
             "ephemeral-storage": 1.0 * int_value(allocatable.get("ephemeral-storage", 0))}

    def share(kind: str, value: int) -> str:
        shown = cpu_text(value) if kind == "cpu" else bytes_text(value)
        percent = int(value / total[kind] * 100) if total[kind] else 0
        return f"{shown} ({percent}%)"

    w(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    sums: dict[str, int] = {}
    for p in pods:
        meta = p.get("metadata") or {}
        req, lim = pod_totals(p, "requests"), pod_totals(p, "limits")
        for kind in total:
            sums[f"requests.{kind}"] = sums.get(f"requests.{kind}", 0) + req[kind]
            sums[f"limits.{kind}"] = sums.get(f"limits.{kind}", 0) + lim[kind]
        w(1, f"{meta.get('namespace')}\t{meta.get('name')}\t\t{share('cpu', req['cpu'])}\t"
             f"{share('cpu', lim['cpu'])}\t{share('memory', req['memory'])}\t"
             f"{share('memory', lim['memory'])}\t{tables.age(meta.get('creationTimestamp'))}\n")
    w(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., "
         "overcommitted.)\n")
    w(1, "Resource\tRequests\tLimits\n")
    w(1, "--------\t--------\t------\n")
    for kind in total:
        w(1, f"{kind}\t{share(kind, sums.get(f'requests.{kind}', 0))}\t"
             f"{share(kind, sums.get(f'limits.{kind}', 0))}\n")


def pod_totals(pod: Obj, which: str) -> dict[str, int]:
    """A pod's requests or limits (as written, no defaults): the sum over its containers,
    or an init container's when larger (they run one at a time)."""
    spec = pod.get("spec") or {}
    out = {"cpu": 0, "memory": 0, "ephemeral-storage": 0}
    for group, combine in ((spec.get("containers") or [], "sum"),
                           (spec.get("initContainers") or [], "max")):
        part = {"cpu": 0, "memory": 0, "ephemeral-storage": 0}
        for c in group:
            values = (c.get("resources") or {}).get(which) or {}
            found = {"cpu": milli_value(values["cpu"]) if "cpu" in values else 0,
                     "memory": int_value(values["memory"]) if "memory" in values else 0,
                     "ephemeral-storage": int_value(values["ephemeral-storage"])
                     if "ephemeral-storage" in values else 0}
            for kind in part:
                part[kind] = part[kind] + found[kind] if combine == "sum" else \
                    max(part[kind], found[kind])
        for kind in out:
            out[kind] = max(out[kind], part[kind]) if combine == "max" else part[kind]
    return out


def cpu_text(millis: int) -> str:
    """A CPU quantity as Kubernetes writes it: ``500m``, ``1``, ``0``."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def bytes_text(value: int) -> str:
    """A memory quantity as Kubernetes writes it: ``128Mi``, ``1G``, ``1000``."""
    if value == 0:
        return "0"
    for suffix, size in (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30),
                         ("Mi", 2**20), ("Ki", 2**10)):
        if value % size == 0:
            return f"{value // size}{suffix}"
    for suffix, size in (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9),
                         ("M", 10**6), ("k", 10**3)):
        if value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)


def claim(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj)
    storage_class = (meta.get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", spec.get("storageClassName") or "")
    w(0, f"StorageClass:\t{storage_class}\n")
    if meta.get("deletionTimestamp"):
        w(0, f"Status:\tTerminating (lasts {tables.age(meta['deletionTimestamp'])})\n")
    else:
        w(0, f"Status:\t{status.get('phase') or ''}\n")
    w(0, f"Volume:\t{spec.get('volumeName') or ''}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"Finalizers:\t[{' '.join(meta.get('finalizers') or [])}]\n")
    capacity = modes = ""
    if spec.get("volumeName"):
        capacity = str((status.get("capacity") or {}).get("storage") or "")
        modes = tables.access_modes(status.get("accessModes"))
    w(0, f"Capacity:\t{capacity}\n")
    w(0, f"Access Modes:\t{modes}\n")
    if spec.get("volumeMode"):
        w(0, f"VolumeMode:\t{spec['volumeMode']}\n")
    users = sorted(str(p["metadata"]["name"]) for p in _pods_of(client, meta)
                   if any((v.get("persistentVolumeClaim") or {}).get("claimName")
                          == meta.get("name") for v in (p.get("spec") or {}).get("volumes") or []))
    w(0, "Used By:\t" + ("\n\t".join(users) or "<none>") + "\n")
    events_block(w, events)
    return w.text()


def _pods_of(client: KubeClient, meta: Obj) -> list[Obj]:
    try:
        return list(client.list("pods", meta.get("namespace"))["items"])
    except ApiError:
        return []


# -- kubectl's generic describer, for the other kinds -----------------------------------------

def generic(client: KubeClient, obj: Obj, events: Events) -> str:
    meta = obj.get("metadata") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Namespace:\t{meta.get('namespace') or ''}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    _content(w, 0, obj, "", {".metadata.managedFields", ".metadata.name",
                             ".metadata.namespace", ".metadata.labels",
                             ".metadata.annotations"})
    events_block(w, events)
    return w.text()


def _content(w: Writer, level: int, content: dict[str, Any], prefix: str,
             skip: set[str]) -> None:
    for field in sorted(content):
        value, path = content[field], f"{prefix}.{field}"
        if path in skip:
            continue
        if isinstance(value, dict):
            w(level, f"{smart_label(field)}:\n")
            _content(w, level + 1, value, path, skip)
        elif isinstance(value, list):
            w(level, f"{smart_label(field)}:\n")
            for child in value:
                if isinstance(child, dict):
                    _content(w, level + 1, child, path, skip)
                else:
                    w(level + 1, f"{go(child)}\n")
        else:
            w(level, f"{smart_label(field)}:\t{go(value)}\n")


_ACRONYMS = {"API", "URL", "UID", "GUID"}


def smart_label(field: str) -> str:
    """kubectl's smartLabelFor: ``apiVersion`` -> ``API Version``, ``clusterIP`` ->
    ``Cluster IP``."""
    if re.search(r"[^A-Za-z-]", field):
        return field
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|-", field) or [field]
    merged: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else ""
        if len(part) >= 2 and part.isupper() and nxt[:1].isupper():
            merged.append(part + nxt)
            i += 2
            continue
        merged.append(part)
        i += 1
    out = []
    for part in merged:
        if part.upper() in _ACRONYMS:
            part = part.upper()
        elif part.islower():
            part = part.title()
        out.append(part)
    return " ".join(out)
