"""The pieces every ``kompy describe`` layout shares, written as kubectl's describe.go
writes them (kubectl/pkg/describe): a prefix writer whose levels indent by two spaces, the
multi-line Labels/Annotations, times (RFC 1123 with the zone, local time), the Events
table, and the pod template's containers and volumes. Values are printed as Go prints them
(``true``, ``<none>``), never as Python would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from kompy.client import tables
from kompy.client.objects import Obj
from kompy.client.quantity import normalized
from kompy.kubectl.tabwriter import tabwrite

SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
MAX_ANNOTATION = 140


class Writer:
    """kubectl's PrefixWriter over a tabwriter: ``w(level, "Name:\\t%s\\n")``."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def __call__(self, level: int, text: str) -> None:
        self._parts.append("  " * level + text)

    def flush(self) -> None:
        """End every column block here (kubectl's ``w.Flush()``)."""
        self._parts.append("\f")

    def text(self) -> str:
        return tabwrite("".join(self._parts).replace("\n\f", "\f"))

    def raw(self) -> str:
        """What the PrefixWriter writes to a plain buffer (kubectl's rollout history
        ``--revision``): the tabs as they are."""
        return "".join(self._parts).replace("\f", "")


def go(value: Any) -> str:
    """A value as Go's ``%v`` prints it: true/false, <nil>, whole numbers without ``.0``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)


def when(timestamp: str | None) -> str:
    """RFC 1123 with the numeric zone, in local time (``Mon, 02 Jan 2006 15:04:05 -0700``),
    as kubectl prints a metav1.Time."""
    if not timestamp:
        return "<unset>"
    try:
        parsed = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return parsed.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def labels_block(w: Writer, title: str, labels: Mapping[str, Any] | None,
                 indent: str = "") -> None:
    """``Labels:  app=web`` and one ``key=value`` per further line (sorted)."""
    w(0, f"{indent}{title}:\t")
    keys = sorted(labels or {})
    if not keys:
        w(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w(0, f"{indent}\t")
        w(0, f"{key}={go((labels or {})[key])}\n")


def annotations_block(w: Writer, title: str, annotations: Mapping[str, Any] | None) -> None:
    """Sorted ``key: value``; long or multi-line values on their own lines (cut at 140)."""
    w(0, f"{title}:\t")
    values = annotations or {}
    keys = sorted(k for k in values if k not in SKIPPED_ANNOTATIONS)
    if not keys:
        w(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w(0, "\t")
        value = str(values[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION or "\n" in value:
            w(0, f"{key}:\n")
            for line in value.split("\n"):
                short = line if len(line) <= MAX_ANNOTATION - 2 else \
                    line[:MAX_ANNOTATION - 2] + "..."
                w(0, f"\t  {short}\n")
        else:
            w(0, f"{key}: {value}\n")


def controller_of(obj: Obj) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def selector_text(selector: Mapping[str, Any] | None, empty: str = "") -> str:
    """A LabelSelector as kubectl prints it: ``app=web,tier in (a,b)``; ``empty`` when there
    is none ("" as LabelSelectorAsSelector prints it, "<none>" as FormatLabelSelector)."""
    if not selector:
        return empty
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or ():
        op, values = str(expr.get("operator")), ",".join(expr.get("values") or ())
        key = expr.get("key")
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": f"{key}", "DoesNotExist": f"!{key}"}.get(op, f"{key} {op}"))
    return ",".join(parts) or empty


def events_block(w: Writer, events: list[Obj] | None) -> None:
    """kubectl's Events table (oldest first), or ``Events:  <none>``."""
    if events is None:
        return
    if not events:
        w(0, "Events:\t<none>\n")
        return
    w.flush()
    w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""):
        first = tables.age(e.get("firstTimestamp") or _seconds(e.get("eventTime")) or
                           (e.get("metadata") or {}).get("creationTimestamp"))
        count = int(e.get("count") or 1)
        interval = first if count <= 1 else \
            f"{tables.age(e.get('lastTimestamp'))} (x{count} over {first})"
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") \
            or e.get("reportingController") or ""
        message = str(e.get("message") or "").strip()
        path = (e.get("involvedObject") or {}).get("fieldPath")
        if path:
            message = f"{path}: {message}"
        w(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{message}\n")


def _seconds(micro: str | None) -> str | None:
    """An eventTime (MicroTime, with a fraction) in the seconds form ``age`` reads."""
    return micro[:19] + "Z" if micro else None


# -- the pod template: containers and volumes (describe.go's describeContainers...) -----------

def containers_block(w: Writer, label: str, containers: list[Obj],
                     statuses: list[Obj] | None, space: str = "",
                     pod: Obj | None = None) -> None:
    by_name = {s.get("name"): s for s in statuses or ()}
    w(0, f"{space}{label}:{'' if containers else ' <none>'}\n")
    name_indent = " " if space else ""
    for c in containers:
        status = by_name.get(c.get("name")) if statuses is not None else None
        w(1, f"{name_indent}{c.get('name')}:\n")
        if status is not None:
            w(2, f"Container ID:\t{status.get('containerID') or ''}\n")
        w(2, f"Image:\t{c.get('image') or ''}\n")
        if status is not None:
            w(2, f"Image ID:\t{status.get('imageID') or ''}\n")
        _ports(w, c)
        for key, title in (("command", "Command"), ("args", "Args")):
            if c.get(key):
                w(2, f"{title}:\n")
                for item in c[key]:
                    for line in str(item).split("\n"):
                        w(3, f"{line}\n")
        if status is not None:
            state_block(w, "State", status.get("state") or {})
            last = status.get("lastState") or {}
            if last.get("terminated"):
                state_block(w, "Last State", last)
            w(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
            w(2, f"Restart Count:\t{int(status.get('restartCount') or 0)}\n")
        _resources(w, c.get("resources") or {})
        for key, title in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"),
                           ("startupProbe", "Startup")):
            if c.get(key):
                w(2, f"{title}:\t{probe_text(c[key])}\n")
        if c.get("envFrom"):
            _env_from(w, c["envFrom"])
        _env(w, c, pod)
        _mounts(w, c.get("volumeMounts") or [])


def _ports(w: Writer, c: Obj) -> None:
    ports = c.get("ports") or []
    own = ", ".join(_port(p.get("containerPort"), p) for p in ports)
    host = ", ".join(_port(p.get("hostPort") or 0, p) for p in ports)
    w(2, f"Ports:\t{own}\n" if "," in own else f"Port:\t{own or '<none>'}\n")
    w(2, f"Host Ports:\t{host}\n" if "," in host else f"Host Port:\t{host or '<none>'}\n")
    profile = (c.get("securityContext") or {}).get("seccompProfile") or {}
    if profile:
        w(2, f"SeccompProfile:\t{profile.get('type')}\n")
        if profile.get("type") == "Localhost":
            w(3, f"LocalhostProfile:\t{profile.get('localhostProfile')}\n")


def _port(number: Any, port: Obj) -> str:
    # The protocol as written: a stored pod's is defaulted, a ControllerRevision's template
    # may have none (kubectl then prints ``80/``).
    return f"{number}/{port.get('protocol') or ''}"


def state_block(w: Writer, title: str, state: Obj) -> None:
    if state.get("running") is not None:
        w(2, f"{title}:\tRunning\n")
        w(3, f"Started:\t{when((state['running'] or {}).get('startedAt'))}\n")
    elif state.get("waiting") is not None:
        w(2, f"{title}:\tWaiting\n")
        reason = (state["waiting"] or {}).get("reason")
        if reason:
            w(3, f"Reason:\t{reason}\n")
    elif state.get("terminated") is not None:
        term = state["terminated"] or {}
        w(2, f"{title}:\tTerminated\n")
        if term.get("reason"):
            w(3, f"Reason:\t{term['reason']}\n")
        if term.get("message"):
            w(3, f"Message:\t{term['message']}\n")
        w(3, f"Exit Code:\t{int(term.get('exitCode') or 0)}\n")
        if term.get("signal"):
            w(3, f"Signal:\t{term['signal']}\n")
        w(3, f"Started:\t{when(term.get('startedAt'))}\n")
        w(3, f"Finished:\t{when(term.get('finishedAt'))}\n")
    else:
        w(2, f"{title}:\tWaiting\n")


def _resources(w: Writer, resources: Obj) -> None:
    for key, title in (("limits", "Limits"), ("requests", "Requests")):
        values = resources.get(key) or {}
        if values:
            w(2, f"{title}:\n")
            for name in sorted(values):   # as Quantity.String() prints it, once decoded
                w(3, f"{name}:\t{normalized(values[name])}\n")


def probe_text(probe: Obj) -> str:
    """``http-get http://:8000/health delay=0s timeout=1s period=10s #success=1 ...``, as
    kubectl's DescribeProbe."""
    attrs = (f"delay={int(probe.get('initialDelaySeconds') or 0)}s "
             f"timeout={int(probe.get('timeoutSeconds') or 0)}s "
             f"period={int(probe.get('periodSeconds') or 0)}s "
             f"#success={int(probe.get('successThreshold') or 0)} "
             f"#failure={int(probe.get('failureThreshold') or 0)}")
    if probe.get("exec"):
        return f"exec [{' '.join(str(c) for c in probe['exec'].get('command') or [])}] {attrs}"
    if probe.get("httpGet"):
        get = probe["httpGet"]
        scheme = str(get.get("scheme") or "").lower()   # Go's url.URL: "//host:port/path"
        return f"http-get {scheme + ':' if scheme else ''}//{get.get('host') or ''}:" \
               f"{get.get('port')}{get.get('path') or ''} {attrs}"
    if probe.get("tcpSocket"):
        sock = probe["tcpSocket"]
        return f"tcp-socket {sock.get('host') or ''}:{sock.get('port')} {attrs}"
    if probe.get("grpc"):
        return f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service') or ''} " \
               f"{attrs}"
    return f"unknown {attrs}"


def _env_from(w: Writer, sources: list[Obj]) -> None:
    w(2, "Environment Variables from:\n")
    for source in sources:
        kind, ref = ("ConfigMap", source.get("configMapRef")) if source.get("configMapRef") \
            else ("Secret", source.get("secretRef") or {})
        optional = go(bool((ref or {}).get("optional")))
        name = (ref or {}).get("name")
        with_prefix = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
        w(3, f"{name}\t{kind}{with_prefix}\tOptional: {optional}\n")


def _env(w: Writer, c: Obj, pod: Obj | None) -> None:
    env = c.get("env") or []
    w(2, f"Environment:{'' if env else chr(9) + '<none>'}\n")
    for e in env:
        source = e.get("valueFrom")
        if not source:
            for i, line in enumerate(str(e.get("value") or "").split("\n")):
                w(3, f"{e.get('name')}:\t{line}\n" if i == 0 else f"\t{line}\n")
            continue
        if source.get("fieldRef"):
            ref = source["fieldRef"]
            value = _field(pod, str(ref.get("fieldPath"))) if pod else ""
            w(3, f"{e.get('name')}:\t{value} ({ref.get('apiVersion') or ''}:"
                 f"{ref.get('fieldPath')})\n")
        elif source.get("resourceFieldRef"):
            w(3, f"{e.get('name')}:\t ({source['resourceFieldRef'].get('resource')})\n")
        elif source.get("secretKeyRef"):
            ref = source["secretKeyRef"]
            w(3, f"{e.get('name')}:\t<set to the key '{ref.get('key')}' in secret "
                 f"'{ref.get('name')}'>\tOptional: {go(bool(ref.get('optional')))}\n")
        elif source.get("configMapKeyRef"):
            ref = source["configMapKeyRef"]
            w(3, f"{e.get('name')}:\t<set to the key '{ref.get('key')}' of config map "
                 f"'{ref.get('name')}'>\tOptional: {go(bool(ref.get('optional')))}\n")


def _field(pod: Obj, path: str) -> str:
    value: Any = pod
    for part in path.replace("['", ".").replace("']", "").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else go(value)


def _mounts(w: Writer, mounts: list[Obj]) -> None:
    w(2, f"Mounts:{'' if mounts else chr(9) + '<none>'}\n")
    for m in sorted(mounts, key=lambda m: str(m.get("mountPath"))):
        flags = ["ro" if m.get("readOnly") else "rw"]
        if m.get("subPath"):
            flags.append(f'path="{m["subPath"]}"')
        w(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")


def volumes_block(w: Writer, volumes: list[Obj], space: str = "") -> None:
    if not volumes:
        w(0, f"{space}Volumes:\t<none>\n")
        return
    w(0, f"{space}Volumes:\n")
    for v in volumes:
        w(1, f"{' ' if space else ''}{v.get('name')}:\n")
        w(2, "".join(_volume(v)))   # (continuation lines carry their own indent)


def _volume(v: Obj) -> Iterable[str]:
    if v.get("configMap") is not None:
        src = v["configMap"] or {}
        return ["Type:\tConfigMap (a volume populated by a ConfigMap)\n",
                f"    Name:\t{src.get('name')}\n",
                f"    Optional:\t{go(bool(src.get('optional')))}\n"]
    if v.get("secret") is not None:
        src = v["secret"] or {}
        return ["Type:\tSecret (a volume populated by a Secret)\n",
                f"    SecretName:\t{src.get('secretName')}\n",
                f"    Optional:\t{go(bool(src.get('optional')))}\n"]
    if v.get("emptyDir") is not None:
        src = v["emptyDir"] or {}
        return ["Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n",
                f"    Medium:\t{src.get('medium') or ''}\n",
                f"    SizeLimit:\t{src.get('sizeLimit') or '<unset>'}\n"]
    if v.get("persistentVolumeClaim") is not None:
        src = v["persistentVolumeClaim"] or {}
        return ["Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the "
                "same namespace)\n", f"    ClaimName:\t{src.get('claimName')}\n",
                f"    ReadOnly:\t{go(bool(src.get('readOnly')))}\n"]
    if v.get("hostPath") is not None:
        src = v["hostPath"] or {}
        return ["Type:\tHostPath (bare host directory volume)\n",
                f"    Path:\t{src.get('path')}\n",
                f"    HostPathType:\t{src.get('type') or '<none>'}\n"]
    if v.get("downwardAPI") is not None:
        lines = ["Type:\tDownwardAPI (a volume populated by information about the pod)\n",
                 "    Items:\n"]
        for item in (v["downwardAPI"] or {}).get("items") or []:
            ref = item.get("fieldRef") or item.get("resourceFieldRef") or {}
            lines.append(f"      {ref.get('fieldPath') or ref.get('resource')} -> "
                         f"{item.get('path')}\n")
        return lines
    if v.get("projected") is not None:
        lines = ["Type:\tProjected (a volume that contains injected data from multiple "
                 "sources)\n"]
        # kubectl's printProjectedVolumeSource writes every source at the volume's level.
        for source in (v["projected"] or {}).get("sources") or []:
            if source.get("secret"):
                lines += [f"    SecretName:\t{source['secret'].get('name')}\n",
                          f"    Optional:\t{go(bool(source['secret'].get('optional')))}\n"]
            elif source.get("configMap"):
                lines += [f"    ConfigMapName:\t{source['configMap'].get('name')}\n",
                          f"    Optional:\t{go(bool(source['configMap'].get('optional')))}\n"]
            elif source.get("downwardAPI"):
                lines.append("    DownwardAPI:\ttrue\n")
            elif source.get("serviceAccountToken"):
                seconds = source["serviceAccountToken"].get("expirationSeconds")
                lines.append(f"    TokenExpirationSeconds:\t{seconds}\n")
        return lines
    return ["<unknown>\n"]


def pod_template_block(w: Writer, template: Obj | None) -> None:
    """kubectl's DescribePodTemplate."""
    w(0, "Pod Template:\n")
    if not template:
        w(1, "<unset>")
        return
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    # The indent is part of the title, as kubectl's printLabelsMultiline(w, "  Labels", ...)
    # has it: continuation lines start at the tab (it shows in rollout history's raw text).
    labels_block(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_block(w, "  Annotations", meta.get("annotations"))
    if spec.get("serviceAccountName"):
        w(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        containers_block(w, "Init Containers", spec["initContainers"], None, "  ")
    containers_block(w, "Containers", spec.get("containers") or [], None, "  ")
    volumes_block(w, spec.get("volumes") or [], "  ")
    if spec.get("priorityClassName"):
        w(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_block(w, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations_block(w, spec.get("tolerations") or [], "  Tolerations")


def tolerations_block(w: Writer, tolerations: list[Obj], title: str = "Tolerations") -> None:
    w(0, f"{title}:\t")
    if not tolerations:
        w(0, "<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: str(t.get("key") or ""))):
        if i:
            w(0, "\t")
        text = str(t.get("key") or "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if t.get("key") or t.get("effect") else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w(0, f"{text}\n")
