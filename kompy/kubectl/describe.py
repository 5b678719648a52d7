"""``kompy describe KIND NAME``: a readable summary of one object, then its events.

Like kubectl describe: the metadata first, a few kind-specific lines (pod containers and
their states, a Deployment's replicas, a Service's endpoints), then ``spec`` and ``status`` as
an indented outline, and the Events that name the object.
"""

from __future__ import annotations

from typing import Any

from kompy.client import KubeClient, resources, tables
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.kubectl import printers


def _pairs(mapping: dict[str, Any] | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((mapping or {}).items())] or ["<none>"]


def _outline(value: Any, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                _outline(item, indent + 1, lines)
            else:
                lines.append(f"{pad}{key}:\t{item if item not in ({}, []) else '<none>'}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                sub: list[str] = []
                _outline(item, indent + 1, sub)
                if sub:
                    sub[0] = f"{pad}- " + sub[0].lstrip()
                lines.extend(sub)
            else:
                lines.append(f"{pad}- {item}")
    else:
        lines.append(f"{pad}{value}")


def _pod_lines(pod: Obj) -> list[str]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready, reason, restarts = tables.pod_status(pod)
    lines = [f"Node:\t{spec.get('nodeName') or '<none>'}",
             f"Status:\t{reason}", f"IP:\t{status.get('podIP') or '<none>'}",
             f"Ready:\t{ready}", f"Restarts:\t{restarts}", "Containers:"]
    states = {s.get("name"): s for s in status.get("containerStatuses") or []}
    for c in spec.get("containers") or []:
        st = states.get(c.get("name")) or {}
        state = st.get("state") or {}
        state_name = next(iter(state), "Waiting").capitalize()
        detail = (state.get(state_name.lower()) or {}).get("reason") or ""
        lines += [f"  {c.get('name')}:", f"    Image:\t{c.get('image')}",
                  f"    State:\t{state_name}{f' ({detail})' if detail else ''}",
                  f"    Ready:\t{st.get('ready', False)}",
                  f"    Restart Count:\t{st.get('restartCount', 0)}"]
    return lines


def _replica_lines(obj: Obj) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    total = st.get("replicas", 0)
    available = st.get("availableReplicas", st.get("readyReplicas", 0))
    return [f"Selector:\t{','.join(_pairs((spec.get('selector') or {}).get('matchLabels')))}",
            f"Replicas:\t{spec.get('replicas', 0)} desired | {st.get('updatedReplicas', 0)} "
            f"updated | {total} total | {available} available | "
            f"{max(0, total - available)} unavailable"]


def _service_lines(client: KubeClient, svc: Obj) -> list[str]:
    spec = svc.get("spec") or {}
    meta = svc.get("metadata") or {}
    try:
        endpoints = client.get("endpoints", str(meta.get("name")), meta.get("namespace"))
    except ApiError:
        endpoints = {}
    addresses = [f"{a.get('ip')}:{p.get('port')}" for sub in endpoints.get("subsets") or []
                 for a in sub.get("addresses") or [] for p in sub.get("ports") or []]
    return [f"Type:\t{spec.get('type', 'ClusterIP')}",
            f"IP:\t{spec.get('clusterIP') or '<none>'}",
            f"Port(s):\t{tables.service_ports(spec)}",
            f"Endpoints:\t{','.join(addresses) or '<none>'}"]


def describe(client: KubeClient, kind: str, name: str, namespace: str | None) -> str:
    res = resources.lookup(kind)
    obj = client.get(res.plural, name, namespace)
    meta = obj.get("metadata") or {}
    lines = [f"Name:\t{meta.get('name')}"]
    if res.namespaced:
        lines.append(f"Namespace:\t{meta.get('namespace')}")
    lines.append(f"Kind:\t{res.kind} ({res.api_version})")
    lines.append(f"CreationTimestamp:\t{meta.get('creationTimestamp')}")
    lines.append("Labels:\t" + "\n\t".join(_pairs(meta.get("labels"))))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith("kubectl.kubernetes.io/last-applied")}
    lines.append("Annotations:\t" + "\n\t".join(_pairs(annotations)))
    if meta.get("deletionTimestamp"):
        lines.append(f"Terminating since:\t{meta['deletionTimestamp']}")
    if res.kind == "Pod":
        lines += _pod_lines(obj)
    elif res.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        lines += _replica_lines(obj)
    elif res.kind == "Service":
        lines += _service_lines(client, obj)
    for section in ("spec", "status", "data"):
        value = obj.get(section)
        if section == "data" and res.kind == "Secret" and isinstance(value, dict):
            value = {k: f"{len(v) * 3 // 4} bytes" for k, v in value.items()}
        if value:
            lines.append(f"{section.capitalize()}:")
            _outline(value, 1, lines)
    lines.append("Events:" + _events(client, res, meta))
    return _align(lines)


def _events(client: KubeClient, res: resources.Resource, meta: Obj) -> str:
    selector = f"involvedObject.name={meta.get('name')},involvedObject.kind={res.kind}"
    try:
        events = client.list("events", meta.get("namespace") or "default",
                             field_selector=selector)["items"]
    except ApiError:
        return "\t<unavailable>"
    if not events:
        return "\t<none>"
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    rows = [["Type", "Reason", "Age", "From", "Message"],
            ["----", "------", "----", "----", "-------"]]
    for e in events:
        last = e.get("lastTimestamp") or e.get("eventTime") or (
            e.get("metadata") or {}).get("creationTimestamp")
        count = int(e.get("count") or 1)
        when = tables.age(last) + (f" (x{count})" if count > 1 else "")
        rows.append([e.get("type", ""), e.get("reason", ""), when,
                     (e.get("source") or {}).get("component", "") or e.get(
                         "reportingComponent", ""), e.get("message", "")])
    table = printers.format_table(rows)
    return "\n" + "".join(f"  {line}\n" for line in table.splitlines()).rstrip("\n")


def _align(lines: list[str]) -> str:
    """Expand the first tab of top-level lines to a common column, as kubectl does."""
    text = "\n".join(lines)
    top = [line for line in text.splitlines() if "\t" in line and not line.startswith(" ")]
    width = max((len(line.split("\t")[0]) for line in top), default=0) + 2
    out = []
    for line in text.splitlines():
        if line.startswith(" "):
            out.append(line.replace("\t", " "))
        elif "\t" in line:
            head, _, tail = line.partition("\t")
            out.append(head.ljust(width) + tail.replace("\t", " "))
        else:
            out.append(line)
    return "\n".join(out) + "\n"
