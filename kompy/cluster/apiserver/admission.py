"""Validation and allocation before an object is stored (the API server's admission step).

Validation checks what kompy's controllers and kubelet rely on, with Kubernetes' messages
(``spec.selector: Required value``): names (DNS-1123, https://kubernetes.io/docs/concepts/
overview/working-with-objects/names/), pod containers and images, workload selectors that
match their template's labels, Service ports. It is not the full OpenAPI schema.
Allocation gives Services a cluster IP from 10.96.0.0/12 and NodePorts from 30000-32767, as
kube-apiserver does.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

from kompy.client.errors import Invalid
from kompy.client.objects import Obj
from kompy.client.resources import Resource
from kompy.client.selectors import matches_labels, selector_from_match
from kompy.cluster.apiserver import appsvalidation
from kompy.cluster.apiserver.schemas import FieldError
from kompy.cluster.ingress.classes import LEGACY_ANNOTATION as LEGACY_INGRESS_CLASS
from kompy.cluster.ingress.classes import default_class
from kompy.cluster.proxy import nodeports

Problems = list[tuple[str, str]]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kinds whose names become DNS labels (hostnames, Service names): 63 characters, no dots.
_LABEL_NAMED = {"Namespace", "Service"}
_PATH_SEGMENT_NAMED = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def validate(res: Resource, obj: Obj) -> None:
    """Raise Invalid listing every problem, or return."""
    problems: Problems = []
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        problems.append(("metadata", "Required value"))
        meta = {}
    name = meta.get("name")
    if name is not None or not meta.get("generateName"):
        _name(res, name, problems)
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, dict) and all(
                isinstance(v, str) for v in value.values())):
            problems.append((f"metadata.{key}", "Invalid value: must map strings to strings"))
    _sizes(res, obj, meta, problems)
    checker = _CHECKS.get(res.kind)
    if checker:
        spec = obj.get("spec")
        if res.kind not in ("Namespace",) and not isinstance(spec, dict):
            problems.append(("spec", "Required value"))
        else:
            checker(spec if isinstance(spec, dict) else {}, problems)
    if problems:
        raise invalid(res, obj, [FieldError(f, _cause_type(m), m) for f, m in problems])


_CAUSES = (("Required value", "FieldValueRequired"), ("Too long", "FieldValueTooLong"),
           ("Unsupported value", "FieldValueNotSupported"),
           ("Duplicate value", "FieldValueDuplicate"), ("Forbidden", "FieldValueForbidden"))


def _cause_type(message: str) -> str:
    return next((cause for prefix, cause in _CAUSES if message.startswith(prefix)),
                "FieldValueInvalid")


def invalid(res: Resource, obj: Obj, errors: list[FieldError]) -> Invalid:
    """422 Invalid as k8s.io/apimachinery's NewInvalid: ``Kind.group "name" is invalid:``
    then the one error, or all of them as ``[a, b]``; each a cause with its field."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    name = str(meta.get("name") or meta.get("generateName") or "")
    group = f".{res.group}" if res.group else ""
    texts = list(dict.fromkeys(str(e) for e in errors))
    details = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [{"reason": e.type, "message": e.body, "field": e.field} for e in errors]
    return Invalid(422, "Invalid", f'{res.kind}{group} "{name}" is invalid: {details}',
                   body={"details": {"name": name, "group": res.group, "kind": res.kind,
                                     "causes": causes}})


# kube-apiserver's limits: all annotations of an object (which is why client-side `kubectl
# apply`, keeping a copy of the object in one, fails on big objects), and the data of a
# ConfigMap or Secret (https://kubernetes.io/docs/concepts/configuration/configmap/: "The
# data stored in a ConfigMap cannot exceed 1 MiB"; core.MaxSecretSize for both).
ANNOTATIONS_LIMIT = 256 * 1024
CONFIGMAP_LIMIT = 1024 * 1024
DATA_LIMIT = CONFIGMAP_LIMIT
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MESSAGE = ("a valid config key must consist of alphanumeric characters, '-', '_' or "
                       "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                       "validation is '[-._a-zA-Z0-9]+')")


def _sizes(res: Resource, obj: Obj, meta: Obj, problems: Problems) -> None:
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and sum(
            len(str(k)) + len(str(v)) for k, v in annotations.items()) > ANNOTATIONS_LIMIT:
        problems.append(("metadata.annotations",
                         f"Too long: must have at most {ANNOTATIONS_LIMIT} bytes"))
    if res.kind not in ("ConfigMap", "Secret"):
        return
    # As ValidateConfigMap / ValidateSecret: every key a config key, the total of the
    # (decoded) values at most 1 MiB; the error is on "[]" (the whole object) for a
    # ConfigMap, on "data" for a Secret. Values are never quoted: they may be secret.
    total = 0
    fields = ("data", "binaryData") if res.kind == "ConfigMap" else ("data",)
    seen: set[str] = set()
    for name in fields:
        values = obj.get(name)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            text = str(key)
            if len(text) > 253 or not _CONFIG_KEY.match(text) or text in (".", "..") \
                    or text.startswith(".."):
                problems.append((f"{name}[{text}]",
                                 f"Invalid value: {_quote(text)}: {_CONFIG_KEY_MESSAGE}"))
            elif text in seen:
                problems.append((f"{name}[{text}]", f"Invalid value: {_quote(text)}: "
                                                    "duplicate of key present in data"))
            seen.add(text)
            encoded = name == "binaryData" or res.kind == "Secret"
            total += _decoded_size(str(value or "")) if encoded else len(str(value or "")
                                                                        .encode())
    if total > DATA_LIMIT:
        problems.append(("[]" if res.kind == "ConfigMap" else "data",
                         f"Too long: must have at most {DATA_LIMIT} bytes"))


def _decoded_size(text: str) -> int:
    """Bytes of base64 ``text`` once decoded (the schema check has made sure it is)."""
    return len(text) * 3 // 4 - text[-2:].count("=")


def _quote(text: str) -> str:
    return json.dumps(text)


def _name(res: Resource, name: Any, problems: Problems) -> None:
    if not name:
        problems.append(("metadata.name", "Required value: name or generateName is required"))
        return
    text = str(name)
    if res.kind in _PATH_SEGMENT_NAMED:
        # RBAC's names are path segments (system:basic-user): ValidatePathSegmentName.
        if text in (".", "..") or "/" in text or "%" in text:
            problems.append(("metadata.name", f"Invalid value: {text!r}: may not be '.' or "
                             "'..' and may not contain '/' or '%'"))
    elif res.kind in _LABEL_NAMED:
        if len(text) > 63 or not _LABEL.match(text):
            problems.append(("metadata.name", f"Invalid value: {text!r}: a lowercase RFC 1123 "
                             "label must consist of lower case alphanumeric characters or "
                             "'-', start and end with an alphanumeric, at most 63 characters"))
    elif len(text) > 253 or not _SUBDOMAIN.match(text):
        problems.append(("metadata.name", f"Invalid value: {text!r}: a lowercase RFC 1123 "
                         "subdomain must consist of lower case alphanumeric characters, '-' or "
                         "'.', and must start and end with an alphanumeric character"))


def _pod_spec(spec: Any, at: str, problems: Problems, job: bool = False) -> None:
    if not isinstance(spec, dict):
        problems.append((at, "Required value"))
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        problems.append((f"{at}.containers", "Required value: a pod needs at least one container"))
        containers = []
    seen: set[str] = set()
    for i, c in enumerate([*containers, *(spec.get("initContainers") or [])]):
        where = f"{at}.containers[{i}]"
        if not isinstance(c, dict):
            problems.append((where, "Invalid value: must be an object"))
            continue
        cname = c.get("name")
        if not cname or not _LABEL.match(str(cname)):
            problems.append((f"{where}.name", "Required value: a DNS label"))
        elif cname in seen:
            problems.append((f"{where}.name", f"Duplicate value: {cname!r}"))
        seen.add(str(cname))
        if not c.get("image"):
            problems.append((f"{where}.image", "Required value"))
    policy = spec.get("restartPolicy")
    allowed = ("OnFailure", "Never") if job else ("Always", "OnFailure", "Never")
    if policy is not None and policy not in allowed:
        problems.append((f"{at}.restartPolicy", f"Unsupported value: {policy!r}: supported "
                         f"values: {', '.join(allowed)}"))


def _workload(spec: Obj, problems: Problems, selector_required: bool = True,
              job: bool = False) -> None:
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(template, dict):
        problems.append(("spec.template", "Required value"))
        return
    _pod_spec(template.get("spec"), "spec.template.spec", problems, job)
    if not selector:
        if selector_required:
            problems.append(("spec.selector", "Required value"))
        return
    requirements = selector_from_match(selector)
    if not requirements:
        problems.append(("spec.selector", "Invalid value: empty selector is invalid"))
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not matches_labels(requirements, labels):
        problems.append(("spec.template.metadata.labels",
                         f"Invalid value: {labels}: `selector` does not match template "
                         "`labels`"))


def _replicas(spec: Obj, problems: Problems) -> None:
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        problems.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than "
                                          "or equal to 0"))


def _deployment(spec: Obj, problems: Problems) -> None:
    _workload(spec, problems)
    _replicas(spec, problems)
    appsvalidation.min_ready_seconds(spec, problems)


def _deployment_strategy(spec: Obj, problems: Problems) -> None:
    _deployment(spec, problems)
    appsvalidation.deployment_strategy(spec, problems)
    appsvalidation.progress_deadline(spec, problems)


def _daemonset(spec: Obj, problems: Problems) -> None:
    _workload(spec, problems)
    appsvalidation.min_ready_seconds(spec, problems)
    appsvalidation.daemonset_strategy(spec, problems)


def _job(spec: Obj, problems: Problems) -> None:
    _workload(spec, problems, selector_required=False, job=True)


def _cronjob(spec: Obj, problems: Problems) -> None:
    if not spec.get("schedule"):
        problems.append(("spec.schedule", "Required value"))
    else:
        # The controller's own parser: what it cannot run is refused here, with a 422, as
        # kube-apiserver validates schedules and time zones.
        from kompy.cluster.controllers.cronschedule import ScheduleError, parse_schedule
        try:
            parse_schedule(str(spec["schedule"]), spec.get("timeZone"))
        except ScheduleError as error:
            field = "spec.timeZone" if error.reason == "UnknownTimeZone" else "spec.schedule"
            problems.append((field, f"Invalid value: {error.message}"))
    job = (spec.get("jobTemplate") or {}).get("spec")
    if not isinstance(job, dict):
        problems.append(("spec.jobTemplate.spec", "Required value"))
    else:
        _pod_spec((job.get("template") or {}).get("spec"), "spec.jobTemplate.spec.template.spec",
                  problems, job=True)


def _pod(spec: Obj, problems: Problems) -> None:
    _pod_spec(spec, "spec", problems)


def _service(spec: Obj, problems: Problems) -> None:
    ports = spec.get("ports") or []
    kind = spec.get("type", "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        problems.append(("spec.type", f"Unsupported value: {kind!r}"))
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        problems.append(("spec.ports", "Required value"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            problems.append((f"spec.ports[{i}].port", f"Invalid value: {number!r}: must be "
                             "between 1 and 65535, inclusive"))
        pname = port.get("name") if isinstance(port, dict) else None
        if len(ports) > 1 and not pname:
            problems.append((f"spec.ports[{i}].name", "Required value: ports of a Service with "
                                                      "several ports must be named"))
        if pname in names:
            problems.append((f"spec.ports[{i}].name", f"Duplicate value: {pname!r}"))
        names.add(str(pname))
        node_port = port.get("nodePort") if isinstance(port, dict) else None
        if node_port and (not isinstance(node_port, int) or node_port not in nodeports.NODE_PORTS):
            problems.append((f"spec.ports[{i}].nodePort", f"Invalid value: {node_port!r}: "
                             "provided port is not in the valid range. The range of valid "
                             f"ports is {nodeports.NODE_PORTS.start}-"
                             f"{nodeports.NODE_PORTS.stop - 1}"))


def _pvc(spec: Obj, problems: Problems) -> None:
    if not spec.get("accessModes"):
        problems.append(("spec.accessModes", "Required value: at least 1 access mode is "
                                             "required"))


_CHECKS = {
    "Pod": _pod, "Deployment": _deployment_strategy, "ReplicaSet": _deployment,
    "StatefulSet": _deployment, "DaemonSet": _daemonset, "Job": _job, "CronJob": _cronjob,
    "Service": _service, "PersistentVolumeClaim": _pvc,
}


# What a pod update may change (https://kubernetes.io/docs/concepts/workloads/pods/
# #pod-update-and-replacement): images, activeDeadlineSeconds, added tolerations; and the
# scheduler binds an unscheduled pod by setting nodeName.
_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")
_IMMUTABLE_SELECTOR = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")


def validate_update(res: Resource, old: Obj, new: Obj) -> None:
    """Refuse changes Kubernetes refuses: a pod's spec beyond its images, a workload's
    selector. A re-applied pod manifest keeps the node it was bound to."""
    name = (new.get("metadata") or {}).get("name")
    group = f".{res.group}" if res.group else ""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if res.kind == "Pod":
        if old_spec.get("nodeName") and not new_spec.get("nodeName"):
            new_spec["nodeName"] = old_spec["nodeName"]
        # The Priority admission plugin's update rule: what it set at creation is kept by an
        # update that leaves it out (apiserver/priority.py).
        for key in ("priority", "preemptionPolicy"):
            if new_spec.get(key) is None and old_spec.get(key) is not None:
                new_spec[key] = old_spec[key]
        if _pod_shape(old_spec, bound=True) != _pod_shape(new_spec, bound=bool(
                old_spec.get("nodeName"))):
            raise Invalid(422, "Invalid", f'Pod "{name}" is invalid: spec: Forbidden: pod '
                                          "updates may not change fields other than "
                                          "`spec.containers[*].image`, "
                                          "`spec.initContainers[*].image`, "
                                          "`spec.activeDeadlineSeconds`, "
                                          "`spec.tolerations` (only additions to existing "
                                          "tolerations) or "
                                          "`spec.terminationGracePeriodSeconds`",
                          hint="delete the pod and create it again")
    elif res.kind in _IMMUTABLE_SELECTOR and old_spec.get("selector") != new_spec.get(
            "selector"):
        raise Invalid(422, "Invalid", f'{res.kind}{group} "{name}" is invalid: spec.selector: '
                                      "Invalid value: field is immutable",
                      hint=f"delete the {res.kind} and apply it again")


def _pod_shape(spec: Obj, bound: bool) -> Obj:
    """A pod spec without the fields an update may change."""
    shape = {k: v for k, v in spec.items() if k not in _POD_MUTABLE}
    if not bound:
        shape.pop("nodeName", None)
    for key in ("containers", "initContainers"):
        shape[key] = [{k: v for k, v in c.items() if k != "image"}
                      for c in spec.get(key) or [] if isinstance(c, dict)]
    return shape


def allocate_service(spec: Obj, old: Obj | None, others: Iterable[Obj]) -> None:
    """Cluster IP and node ports: kept from the old object, else the next free ones."""
    old_spec = (old or {}).get("spec") or {}
    if spec.get("type") == "ExternalName":
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec.get("clusterIP") or _free_ip(others)
    if spec["clusterIP"] != "None":
        spec["clusterIPs"] = [spec["clusterIP"]]
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return
    used = {int(p["nodePort"]) for o in others for p in (o.get("spec") or {}).get("ports") or []
            if p.get("nodePort")}
    old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort")
                 for p in old_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        if not port.get("nodePort"):
            port["nodePort"] = old_ports.get((port.get("port"), port.get("protocol"))) or \
                nodeports.allocate(used, str(port.get("protocol") or "TCP"))
        used.add(int(port["nodePort"]))


def check_node_ports(res: Resource, obj: Obj, old: Obj | None, others: Iterable[Obj]) -> None:
    """A node port given by hand that another Service of the cluster has is refused, as
    kube-apiserver's allocator refuses it (one this Service had already is its own)."""
    spec = obj.get("spec") or {}
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return
    mine = {p.get("nodePort") for p in ((old or {}).get("spec") or {}).get("ports") or []}
    taken = {p.get("nodePort") for o in others for p in (o.get("spec") or {}).get("ports") or []}
    errors = [FieldError(f"spec.ports[{i}].nodePort", "FieldValueInvalid",
                         f"Invalid value: {port['nodePort']}: provided port is already allocated")
              for i, port in enumerate(spec.get("ports") or [])
              if port.get("nodePort") and port["nodePort"] not in mine
              and port["nodePort"] in taken]
    if errors:
        raise invalid(res, obj, errors)


def _free_ip(others: Iterable[Obj]) -> str:
    used = {(o.get("spec") or {}).get("clusterIP") for o in others}
    # .1 is the "kubernetes" Service's address in real clusters; start after it.
    for offset in range(10, SERVICE_CIDR.num_addresses - 1):
        ip = str(SERVICE_CIDR.network_address + offset)
        if ip not in used:
            return ip
    raise Invalid(422, "Invalid", "no free cluster IP left in 10.96.0.0/12")


def default_ingress_class(ingress: Obj, classes: list[Obj]) -> None:
    """kube-apiserver's DefaultIngressClass admission: a new Ingress that names no class
    (neither ``spec.ingressClassName`` nor the legacy annotation) gets the default
    IngressClass's name, the newest of those marked default.
    https://kubernetes.io/docs/concepts/services-networking/ingress/#default-ingress-class
    """
    spec = ingress.get("spec")
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if not isinstance(spec, dict) or spec.get("ingressClassName") or \
            LEGACY_INGRESS_CLASS in annotations:
        return
    found = default_class(classes)
    if found is not None:
        spec["ingressClassName"] = (found.get("metadata") or {}).get("name")
