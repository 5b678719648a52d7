"""The columns of ``kubectl get`` for each kind, as kubectl prints them.

Shared by the API server (its server-side ``Table`` view, which a stock kubectl asks for) and
kompy's own ``get``/``describe`` (:mod:`kompy.kubectl.printers`), so both show the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kompy.client.objects import Obj, load_balancer_addresses
from kompy.client.wellknown import DEFAULT_CLASS_ANNOTATIONS

Row = list[str]


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's human duration: 45s, 3m20s, 25m, 5h10m, 20h, 3d4h, 42d; ``<invalid>`` for a
    time more than a second ahead (a terminating pod's deletionTimestamp, the moment it is
    to be gone: describe's "Terminating (lasts <invalid>)"), as duration.HumanDuration."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(0, seconds)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _age(o: Obj) -> str:
    return age(_meta(o).get("creationTimestamp"))


def pod_status(pod: Obj) -> tuple[str, str, int]:
    """(READY "1/2", STATUS as kubectl shows it, RESTARTS)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    reason = status.get("reason") or status.get("phase") or "Pending"
    for init in status.get("initContainerStatuses") or []:
        state = init.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode") == 0:
            continue
        waiting = (state.get("waiting") or {}).get("reason")
        reason = f"Init:{waiting}" if waiting and waiting != "PodInitializing" else "Init:0/" + \
            str(len(spec.get("initContainers") or []))
        break
    else:
        for s in statuses:
            state = s.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                term = state["terminated"]
                reason = term.get("reason") or f"ExitCode:{term.get('exitCode')}"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    return f"{ready}/{len(spec.get('containers') or [])}", reason, restarts


def _pods(o: Obj, wide: bool) -> Row:
    ready, reason, restarts = pod_status(o)
    row = [ready, reason, str(restarts), _age(o)]
    if wide:
        status, spec = o.get("status") or {}, o.get("spec") or {}
        row += [status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
                status.get("nominatedNodeName") or "<none>", _readiness_gates(o)]
    return row


def _readiness_gates(o: Obj) -> str:
    """kubectl's READINESS GATES: ``true/all`` of the pod's readiness gates' conditions."""
    gates = [g.get("conditionType") for g in (o.get("spec") or {}).get("readinessGates") or []]
    if not gates:
        return "<none>"
    true = {c.get("type") for c in (o.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g in true)}/{len(gates)}"


def _images(template: Obj) -> list[str]:
    containers = ((template.get("spec") or {}).get("containers")) or []
    return [",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers)]


def _selector(o: Obj) -> str:
    sel = (o.get("spec") or {}).get("selector") or {}
    labels = sel.get("matchLabels", sel) if isinstance(sel, dict) else {}
    return ",".join(f"{k}={v}" for k, v in labels.items() if isinstance(v, str)) or "<none>"


def _deployments(o: Obj, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    row = [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
           str(st.get("updatedReplicas", 0)), str(st.get("availableReplicas", 0)), _age(o)]
    return row + [*_images(spec.get("template") or {}), _selector(o)] if wide else row


def _replicasets(o: Obj, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    row = [str(spec.get("replicas", 0)), str(st.get("replicas", 0)),
           str(st.get("readyReplicas", 0)), _age(o)]
    return row + [*_images(spec.get("template") or {}), _selector(o)] if wide else row


def _statefulsets(o: Obj, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", _age(o)]


def _daemonsets(o: Obj, wide: bool) -> Row:
    st = o.get("status") or {}
    return [str(st.get(k, 0)) for k in ("desiredNumberScheduled", "currentNumberScheduled",
                                         "numberReady", "updatedNumberScheduled",
                                         "numberAvailable")] + [_age(o)]


def service_ports(spec: Obj) -> str:
    out = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _services(o: Obj, wide: bool) -> Row:
    spec = o.get("spec") or {}
    external = ",".join(load_balancer_addresses(o))
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    row = [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", external,
           service_ports(spec), _age(o)]
    return row + [_selector(o)] if wide else row


def _endpoints(o: Obj, wide: bool) -> Row:
    addrs = [f"{a.get('ip')}:{p.get('port')}" for s in o.get("subsets") or []
             for a in s.get("addresses") or [] for p in s.get("ports") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [shown or "<none>", _age(o)]


def _data(o: Obj, wide: bool) -> Row:
    return [str(len(o.get("data") or {}) + len(o.get("binaryData") or {})), _age(o)]


def _secrets(o: Obj, wide: bool) -> Row:
    return [o.get("type", "Opaque"), str(len(o.get("data") or {})), _age(o)]


_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: list[str] | None) -> str:
    """kubectl's GetAccessModesAsString: the short names in a fixed order."""
    given = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES if mode in given)


def _phase(o: Obj, default: str) -> str:
    if _meta(o).get("deletionTimestamp"):
        return "Terminating"
    return str((o.get("status") or {}).get("phase") or default)


def _pvcs(o: Obj, wide: bool) -> Row:
    """Capacity and access modes only once the claim names its volume, as kubectl."""
    spec, st = o.get("spec") or {}, o.get("status") or {}
    bound = bool(spec.get("volumeName"))
    row = [_phase(o, "Pending"), spec.get("volumeName") or "",
           ((st.get("capacity") or {}).get("storage") or "") if bound else "",
           access_modes(st.get("accessModes")) if bound else "",
           spec.get("storageClassName") or "", spec.get("volumeAttributesClassName") or "<unset>",
           _age(o)]
    return row + [spec.get("volumeMode") or "<unset>"] if wide else row


def _pvs(o: Obj, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    row = [str((spec.get("capacity") or {}).get("storage") or "0"),
           access_modes(spec.get("accessModes")),
           str(spec.get("persistentVolumeReclaimPolicy") or ""), _phase(o, ""), claim,
           spec.get("storageClassName") or "", spec.get("volumeAttributesClassName") or "<unset>",
           st.get("reason") or "", _age(o)]
    return row + [spec.get("volumeMode") or "<unset>"] if wide else row


def _storageclasses(o: Obj, wide: bool) -> Row:
    return [str(o.get("provisioner") or ""), str(o.get("reclaimPolicy") or "Delete"),
            str(o.get("volumeBindingMode") or "Immediate"),
            "true" if o.get("allowVolumeExpansion") else "false", _age(o)]


def _priorityclasses(o: Obj, wide: bool) -> Row:
    """kube-apiserver's printPriorityClass, PREEMPTIONPOLICY included as recent servers print it."""
    return [str(o.get("value", 0)), "true" if o.get("globalDefault") else "false", _age(o),
            str(o.get("preemptionPolicy") or "")]


def _quotas(o: Obj, wide: bool) -> Row:
    """kubectl's printResourceQuota: ``used/hard`` of each resource, limits.* apart."""
    st = o.get("status") or {}
    hard, used = st.get("hard") or {}, st.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for resource in sorted(hard):
        column = limit if resource.startswith("limits.") else request
        column.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [_age(o), ", ".join(request), ", ".join(limit)]


def _limitranges(o: Obj, wide: bool) -> Row:
    return [str(_meta(o).get("creationTimestamp") or "")]


def _name_cell(plural: str, obj: Obj) -> str:
    """The NAME cell: a default StorageClass is ``NAME (default)``, as kubectl prints it."""
    text = str(_meta(obj).get("name", ""))
    annotations = _meta(obj).get("annotations") or {}
    if plural == "storageclasses" and any(annotations.get(key) == "true"
                                          for key in DEFAULT_CLASS_ANNOTATIONS):
        text += " (default)"
    return text


def _namespaces(o: Obj, wide: bool) -> Row:
    phase = (o.get("status") or {}).get("phase", "Active")
    return ["Terminating" if _meta(o).get("deletionTimestamp") else phase, _age(o)]


def _nodes(o: Obj, wide: bool) -> Row:
    """kubectl's node columns: Ready or NotReady, ``,SchedulingDisabled`` when cordoned;
    the roles from ``node-role.kubernetes.io/*`` labels."""
    conditions = (o.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    info = (o.get("status") or {}).get("nodeInfo") or {}
    status = "Ready" if ready else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (_meta(o).get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    row = [status, ",".join(roles) or "<none>", _age(o), info.get("kubeletVersion", "")]
    if wide:
        internal = [a.get("address", "") for a in (o.get("status") or {}).get("addresses") or []
                    if a.get("type") == "InternalIP"]
        row += [internal[0] if internal else "<none>", "<none>", info.get("osImage", ""),
                info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]
    return row


def _pdbs(o: Obj, wide: bool) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            str(status.get("disruptionsAllowed", 0)), _age(o)]


def _leases(o: Obj, wide: bool) -> Row:
    return [str((o.get("spec") or {}).get("holderIdentity") or ""), _age(o)]


def _events(o: Obj, wide: bool) -> Row:
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or _meta(o).get("creationTimestamp")
    return [age(last), o.get("type", ""), o.get("reason", ""),
            f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}", o.get("message", "")]


def _jobs(o: Obj, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}", _job_duration(st),
            _age(o)]


def _job_duration(status: Obj) -> str:
    """kubectl's DURATION: start to completion, or start to now while the Job runs."""
    start = status.get("startTime")
    if not start:
        return ""
    end = status.get("completionTime")
    try:
        now = datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if end else None
    except ValueError:
        return ""
    return age(start, now)


def _cronjobs(o: Obj, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [spec.get("schedule", ""), str(spec.get("suspend", False)),
            str(len(st.get("active") or [])), age(st.get("lastScheduleTime")) if st.get(
                "lastScheduleTime") else "<none>", _age(o)]


def _ingresses(o: Obj, wide: bool) -> Row:
    """kubectl's columns: HOSTS lists at most four, ADDRESS the load balancer's addresses,
    PORTS "80, 443" when the Ingress has TLS."""
    spec = o.get("spec") or {}
    hosts = [r.get("host") or "*" for r in spec.get("rules") or []] or ["*"]
    shown = ",".join(hosts[:4]) + (f" + {len(hosts) - 4} more..." if len(hosts) > 4 else "")
    address = ",".join(load_balancer_addresses(o))
    ports = "80, 443" if spec.get("tls") else "80"
    return [spec.get("ingressClassName") or "<none>", shown, address, ports, _age(o)]


def _ingressclasses(o: Obj, wide: bool) -> Row:
    spec = o.get("spec") or {}
    params = spec.get("parameters") or {}
    shown = "<none>"
    if params:
        group = params.get("apiGroup") or ""
        shown = f"{params.get('kind')}.{group}/{params.get('name')}" if group else \
            f"{params.get('kind')}/{params.get('name')}"
    return [spec.get("controller") or "", shown, _age(o)]


def _hpa_metric(spec: Obj, status: Obj | None) -> str:
    """One ``cpu: 45%/50%`` of kubectl's TARGETS (formatHPAMetrics, Kubernetes 1.30)."""
    kind = spec.get("type")
    key = "resource" if kind == "Resource" else "containerResource" \
        if kind == "ContainerResource" else ""
    if not key:
        return f"<{kind or 'unknown'}>"
    source, now = spec.get(key) or {}, ((status or {}).get(key) or {}).get("current") or {}
    target = source.get("target") or {}
    if target.get("averageValue") is not None:
        return f"{source.get('name')}: {now.get('averageValue', '<unknown>')}/" \
               f"{target['averageValue']}"
    current = f"{now['averageUtilization']}%" if "averageUtilization" in now else "<unknown>"
    wanted = f"{target['averageUtilization']}%" if "averageUtilization" in target else "<auto>"
    return f"{source.get('name')}: {current}/{wanted}"


def hpa_targets(o: Obj) -> str:
    specs = (o.get("spec") or {}).get("metrics") or []
    statuses = (o.get("status") or {}).get("currentMetrics") or []
    if not specs:
        return "<none>"
    shown = [_hpa_metric(m, statuses[i] if i < len(statuses) else None)
             for i, m in enumerate(specs)]
    more = f" + {len(shown) - 2} more..." if len(shown) > 2 else ""
    return ", ".join(shown[:2]) + more


def _hpas(o: Obj, wide: bool) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [f"{ref.get('kind')}/{ref.get('name')}", hpa_targets(o),
            str(spec.get("minReplicas", "<unset>")), str(spec.get("maxReplicas", "")),
            str(status.get("currentReplicas", 0)), _age(o)]


def _serviceaccounts(o: Obj, wide: bool) -> Row:
    return [str(len(o.get("secrets") or [])), _age(o)]


def _created_at(o: Obj, wide: bool) -> Row:
    return [str(_meta(o).get("creationTimestamp") or "")]


def _bindings(o: Obj, wide: bool) -> Row:
    ref = o.get("roleRef") or {}
    row = [f"{ref.get('kind')}/{ref.get('name')}", _age(o)]
    if wide:
        subjects = o.get("subjects") or []
        for kind in ("User", "Group"):
            row.append(", ".join(str(s.get("name")) for s in subjects if s.get("kind") == kind))
        row.append(", ".join(f"{s.get('namespace')}/{s.get('name')}" for s in subjects
                             if s.get("kind") == "ServiceAccount"))
    return row


def _generic(o: Obj, wide: bool) -> Row:
    return [_age(o)]


TABLES: dict[str, tuple[list[str], list[str], Callable[[Obj, bool], Row]]] = {
    "pods": (["READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE", "NOMINATED NODE",
                                                      "READINESS GATES"], _pods),
    "deployments": (["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                    ["CONTAINERS", "IMAGES", "SELECTOR"], _deployments),
    "replicasets": (["DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                    _replicasets),
    "statefulsets": (["READY", "AGE"], [], _statefulsets),
    "daemonsets": (["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], [],
                   _daemonsets),
    "services": (["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"],
                 _services),
    "endpoints": (["ENDPOINTS", "AGE"], [], _endpoints),
    "configmaps": (["DATA", "AGE"], [], _data),
    "secrets": (["TYPE", "DATA", "AGE"], [], _secrets),
    "persistentvolumeclaims": (["STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                                "VOLUMEATTRIBUTESCLASS", "AGE"], ["VOLUMEMODE"], _pvcs),
    "persistentvolumes": (["CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM",
                           "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
                          ["VOLUMEMODE"], _pvs),
    "storageclasses": (["PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                        "ALLOWVOLUMEEXPANSION", "AGE"], [], _storageclasses),
    "priorityclasses": (["VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"], [],
                        _priorityclasses),
    "resourcequotas": (["AGE", "REQUEST", "LIMIT"], [], _quotas),
    "limitranges": (["CREATED AT"], [], _limitranges),
    "namespaces": (["STATUS", "AGE"], [], _namespaces),
    "nodes": (["STATUS", "ROLES", "AGE", "VERSION"], ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                                                      "KERNEL-VERSION", "CONTAINER-RUNTIME"],
              _nodes),
    "poddisruptionbudgets": (["MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"],
                             [], _pdbs),
    "leases": (["HOLDER", "AGE"], [], _leases),
    "jobs": (["COMPLETIONS", "DURATION", "AGE"], [], _jobs),
    "cronjobs": (["SCHEDULE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"], [], _cronjobs),
    "ingresses": (["CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], [], _ingresses),
    "ingressclasses": (["CONTROLLER", "PARAMETERS", "AGE"], [], _ingressclasses),
    "horizontalpodautoscalers": (["REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS",
                                  "AGE"], [], _hpas),


    "serviceaccounts": (["SECRETS", "AGE"], [], _serviceaccounts),
    "roles": (["CREATED AT"], [], _created_at),
    "clusterroles": (["CREATED AT"], [], _created_at),
    "rolebindings": (["ROLE", "AGE"], ["USERS", "GROUPS", "SERVICEACCOUNTS"], _bindings),
    "clusterrolebindings": (["ROLE", "AGE"], ["USERS", "GROUPS", "SERVICEACCOUNTS"],
                            _bindings),
}


def table_rows(plural: str, objs: list[Obj], *, wide: bool = False,
               all_namespaces: bool = False, header: bool = True) -> list[Row]:
    columns, wide_columns, row_of = TABLES.get(plural, (["AGE"], [], _generic))
    rows: list[Row] = []
    if plural == "events":
        columns = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        row_of = _events
    if header:
        head = (["NAMESPACE"] if all_namespaces else []) + ([] if plural == "events" else
                                                           ["NAME"])
        rows.append(head + columns + (wide_columns if wide else []))
    for obj in objs:
        meta = _meta(obj)
        lead = [meta.get("namespace", "")] if all_namespaces else []
        name = [] if plural == "events" else [_name_cell(plural, obj)]
        rows.append(lead + name + row_of(obj, wide))
    return rows
