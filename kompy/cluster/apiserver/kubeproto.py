"""The Kubernetes protobuf messages that kubectl 1.33 sends as request bodies.

client-go 1.33's typed clients encode built-in kinds as
``application/vnd.kubernetes.protobuf`` whatever the server says, with no fallback:
``kubectl create configmap|secret|deployment|service|job|cronjob|ingress|namespace|
serviceaccount|role|clusterrole|rolebinding|clusterrolebinding|token|priorityclass``,
``kubectl autoscale``,
``kubectl auth can-i|whoami``, in Kubernetes'
envelope: the magic bytes ``k8s\\x00``, then a ``runtime.Unknown`` (typeMeta, raw,
contentEncoding, contentType) whose ``raw`` is the object's message
(k8s.io/apimachinery/pkg/runtime/types_proto.go). These are the messages of k8s.io/api and
k8s.io/apimachinery that those commands fill, declared by field number (``Table`` rows:
name, number, type, repeated), proto2 as Kubernetes' own. ``to_json`` turns a decoded
message into the JSON object it stands for, as Go's encoder would write it:

* the zero values gogo-protobuf writes for every non-pointer field (``""``, ``0``,
  ``false``) are dropped, as ``omitempty`` drops them in JSON, except for the pointer
  fields in ``KEEP_ZERO`` where an explicit zero means something (``replicas: 0``);
* ``Time`` is RFC 3339 (the zero time is no time), ``IntOrString`` an int or a string,
  ``Quantity`` its string, ``*Entry`` lists (protobuf maps) objects, bytes base64;
* a field this table does not declare must be empty (gogo writes empty messages and zero
  scalars for them); one that holds a value makes the body refused (415), never dropped.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from kompy.cluster.apiserver.protobuf import (
    BOOL,
    BYTES,
    FIELD,
    STRING,
    NotDecodable,
    Table,
    message_classes,
    parse,
    to_dict,
    unknown_fields,
)

I32, I64 = FIELD.TYPE_INT32, FIELD.TYPE_INT64
MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# Field names are the JSON names, so MessageToDict gives the object kubectl meant. Metadata
# is skipped (bytes): a review's metadata carries nothing the server reads.
ENVELOPE: Table = {
    "Unknown": [("typeMeta", 1, "TypeMeta", False), ("raw", 2, BYTES, False),
                ("contentEncoding", 3, STRING, False), ("contentType", 4, STRING, False)],
    "TypeMeta": [("apiVersion", 1, STRING, False), ("kind", 2, STRING, False)],
    "SelfSubjectAccessReview": [("metadata", 1, BYTES, False),
                                ("spec", 2, "SelfSubjectAccessReviewSpec", False)],
    "SelfSubjectAccessReviewSpec": [("resourceAttributes", 1, "ResourceAttributes", False),
                                    ("nonResourceAttributes", 2, "NonResourceAttributes",
                                     False)],
    "ResourceAttributes": [("namespace", 1, STRING, False), ("verb", 2, STRING, False),
                           ("group", 3, STRING, False), ("version", 4, STRING, False),
                           ("resource", 5, STRING, False), ("subresource", 6, STRING, False),
                           ("name", 7, STRING, False)],
    "NonResourceAttributes": [("path", 1, STRING, False), ("verb", 2, STRING, False)],
    "SelfSubjectRulesReview": [("metadata", 1, BYTES, False),
                               ("spec", 2, "SelfSubjectRulesReviewSpec", False)],
    "SelfSubjectRulesReviewSpec": [("namespace", 1, STRING, False)],
    "SelfSubjectReview": [("metadata", 1, BYTES, False)],
}
REVIEWS = ("SelfSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview")

R = True   # repeated

META: Table = {
    "StringEntry": [("key", 1, STRING, False), ("value", 2, STRING, False)],
    "BytesEntry": [("key", 1, STRING, False), ("value", 2, BYTES, False)],
    "QuantityEntry": [("key", 1, STRING, False), ("value", 2, "Quantity", False)],
    "Time": [("seconds", 1, I64, False), ("nanos", 2, I32, False)],
    "IntOrString": [("type", 1, I64, False), ("intVal", 2, I32, False),
                    ("strVal", 3, STRING, False)],
    "Quantity": [("string", 1, STRING, False)],
    "ObjectMeta": [("name", 1, STRING, False), ("generateName", 2, STRING, False),
                   ("namespace", 3, STRING, False), ("selfLink", 4, STRING, False),
                   ("uid", 5, STRING, False), ("resourceVersion", 6, STRING, False),
                   ("generation", 7, I64, False), ("creationTimestamp", 8, "Time", False),
                   ("deletionTimestamp", 9, "Time", False),
                   ("deletionGracePeriodSeconds", 10, I64, False),
                   ("labels", 11, "StringEntry", R), ("annotations", 12, "StringEntry", R),
                   ("ownerReferences", 13, "OwnerReference", R),
                   ("finalizers", 14, STRING, R)],
    "OwnerReference": [("kind", 1, STRING, False), ("name", 3, STRING, False),
                       ("uid", 4, STRING, False), ("apiVersion", 5, STRING, False),
                       ("controller", 6, BOOL, False),
                       ("blockOwnerDeletion", 7, BOOL, False)],
    "LabelSelector": [("matchLabels", 1, "StringEntry", R),
                      ("matchExpressions", 2, "LabelSelectorRequirement", R)],
    "LabelSelectorRequirement": [("key", 1, STRING, False), ("operator", 2, STRING, False),
                                 ("values", 3, STRING, R)],
}
CORE: Table = {
    "ConfigMap": [("metadata", 1, "ObjectMeta", False), ("data", 2, "StringEntry", R),
                  ("binaryData", 3, "BytesEntry", R), ("immutable", 4, BOOL, False)],
    "Secret": [("metadata", 1, "ObjectMeta", False), ("data", 2, "BytesEntry", R),
               ("type", 3, STRING, False), ("stringData", 4, "StringEntry", R),
               ("immutable", 5, BOOL, False)],
    "Namespace": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "NamespaceSpec", False)],
    "NamespaceSpec": [("finalizers", 1, STRING, R)],
    "ServiceAccount": [("metadata", 1, "ObjectMeta", False),
                       ("secrets", 2, "ObjectReference", R),
                       ("imagePullSecrets", 3, "LocalObjectReference", R),
                       ("automountServiceAccountToken", 4, BOOL, False)],
    "ObjectReference": [("kind", 1, STRING, False), ("namespace", 2, STRING, False),
                        ("name", 3, STRING, False), ("uid", 4, STRING, False),
                        ("apiVersion", 5, STRING, False), ("resourceVersion", 6, STRING, False),
                        ("fieldPath", 7, STRING, False)],
    "LocalObjectReference": [("name", 1, STRING, False)],
    "Service": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "ServiceSpec", False)],
    "ServiceSpec": [("ports", 1, "ServicePort", R), ("selector", 2, "StringEntry", R),
                    ("clusterIP", 3, STRING, False), ("type", 4, STRING, False),
                    ("externalIPs", 5, STRING, R), ("sessionAffinity", 7, STRING, False),
                    ("loadBalancerIP", 8, STRING, False),
                    ("loadBalancerSourceRanges", 9, STRING, R),
                    ("externalName", 10, STRING, False),
                    ("externalTrafficPolicy", 11, STRING, False),
                    ("healthCheckNodePort", 12, I32, False),
                    ("publishNotReadyAddresses", 13, BOOL, False),
                    ("ipFamilyPolicy", 17, STRING, False), ("clusterIPs", 18, STRING, R),
                    ("ipFamilies", 19, STRING, R),
                    ("allocateLoadBalancerNodePorts", 20, BOOL, False),
                    ("loadBalancerClass", 21, STRING, False),
                    ("internalTrafficPolicy", 22, STRING, False)],
    "ServicePort": [("name", 1, STRING, False), ("protocol", 2, STRING, False),
                    ("port", 3, I32, False), ("targetPort", 4, "IntOrString", False),
                    ("nodePort", 5, I32, False), ("appProtocol", 6, STRING, False)],
    "PodTemplateSpec": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "PodSpec", False)],
    "PodSpec": [("containers", 2, "Container", R), ("restartPolicy", 3, STRING, False),
                ("terminationGracePeriodSeconds", 4, I64, False),
                ("activeDeadlineSeconds", 5, I64, False), ("dnsPolicy", 6, STRING, False),
                ("nodeSelector", 7, "StringEntry", R),
                ("serviceAccountName", 8, STRING, False),
                ("serviceAccount", 9, STRING, False), ("nodeName", 10, STRING, False),
                ("hostNetwork", 11, BOOL, False), ("hostPID", 12, BOOL, False),
                ("hostIPC", 13, BOOL, False),
                ("imagePullSecrets", 15, "LocalObjectReference", R),
                ("hostname", 16, STRING, False), ("subdomain", 17, STRING, False),
                ("schedulerName", 19, STRING, False), ("initContainers", 20, "Container", R),
                ("automountServiceAccountToken", 21, BOOL, False),
                ("priorityClassName", 24, STRING, False), ("priority", 25, I32, False),
                ("shareProcessNamespace", 27, BOOL, False),
                ("runtimeClassName", 29, STRING, False),
                ("enableServiceLinks", 30, BOOL, False),
                ("preemptionPolicy", 31, STRING, False),
                ("setHostnameAsFQDN", 35, BOOL, False), ("hostUsers", 37, BOOL, False)],
    "Container": [("name", 1, STRING, False), ("image", 2, STRING, False),
                  ("command", 3, STRING, R), ("args", 4, STRING, R),
                  ("workingDir", 5, STRING, False), ("ports", 6, "ContainerPort", R),
                  ("env", 7, "EnvVar", R), ("resources", 8, "ResourceRequirements", False),
                  ("volumeMounts", 9, "VolumeMount", R),
                  ("terminationMessagePath", 13, STRING, False),
                  ("imagePullPolicy", 14, STRING, False), ("stdin", 16, BOOL, False),
                  ("stdinOnce", 17, BOOL, False), ("tty", 18, BOOL, False),
                  ("terminationMessagePolicy", 20, STRING, False),
                  ("restartPolicy", 24, STRING, False)],
    "ContainerPort": [("name", 1, STRING, False), ("hostPort", 2, I32, False),
                      ("containerPort", 3, I32, False), ("protocol", 4, STRING, False),
                      ("hostIP", 5, STRING, False)],
    "EnvVar": [("name", 1, STRING, False), ("value", 2, STRING, False)],
    "ResourceRequirements": [("limits", 1, "QuantityEntry", R),
                             ("requests", 2, "QuantityEntry", R)],
    "VolumeMount": [("name", 1, STRING, False), ("readOnly", 2, BOOL, False),
                    ("mountPath", 3, STRING, False), ("subPath", 4, STRING, False),
                    ("mountPropagation", 5, STRING, False), ("subPathExpr", 6, STRING, False)],
}
POLICY: Table = {
    # kubectl drain's eviction (k8s.io/api/policy/v1, k8s.io/apimachinery/pkg/apis/meta/v1).
    "Eviction": [("metadata", 1, "ObjectMeta", False),
                 ("deleteOptions", 2, "DeleteOptions", False)],
    "DeleteOptions": [("gracePeriodSeconds", 1, I64, False),
                      ("preconditions", 2, "Preconditions", False),
                      ("orphanDependents", 3, BOOL, False),
                      ("propagationPolicy", 4, STRING, False), ("dryRun", 5, STRING, R)],
    "Preconditions": [("uid", 1, STRING, False), ("resourceVersion", 2, STRING, False)],
}
WORKLOADS: Table = {
    "Deployment": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "DeploymentSpec", False)],
    "DeploymentSpec": [("replicas", 1, I32, False), ("selector", 2, "LabelSelector", False),
                       ("template", 3, "PodTemplateSpec", False),
                       ("strategy", 4, "DeploymentStrategy", False),
                       ("minReadySeconds", 5, I32, False),
                       ("revisionHistoryLimit", 6, I32, False), ("paused", 7, BOOL, False),
                       ("progressDeadlineSeconds", 9, I32, False)],
    "DeploymentStrategy": [("type", 1, STRING, False),
                           ("rollingUpdate", 2, "RollingUpdateDeployment", False)],
    "RollingUpdateDeployment": [("maxUnavailable", 1, "IntOrString", False),
                                ("maxSurge", 2, "IntOrString", False)],
    "Job": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "JobSpec", False)],
    "JobSpec": [("parallelism", 1, I32, False), ("completions", 2, I32, False),
                ("activeDeadlineSeconds", 3, I64, False),
                ("selector", 4, "LabelSelector", False), ("manualSelector", 5, BOOL, False),
                ("template", 6, "PodTemplateSpec", False), ("backoffLimit", 7, I32, False),
                ("ttlSecondsAfterFinished", 8, I32, False),
                ("completionMode", 9, STRING, False), ("suspend", 10, BOOL, False)],
    "CronJob": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "CronJobSpec", False)],
    "CronJobSpec": [("schedule", 1, STRING, False), ("startingDeadlineSeconds", 2, I64, False),
                    ("concurrencyPolicy", 3, STRING, False), ("suspend", 4, BOOL, False),
                    ("jobTemplate", 5, "JobTemplateSpec", False),
                    ("successfulJobsHistoryLimit", 6, I32, False),
                    ("failedJobsHistoryLimit", 7, I32, False),
                    ("timeZone", 8, STRING, False)],
    "JobTemplateSpec": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "JobSpec", False)],
    "Ingress": [("metadata", 1, "ObjectMeta", False), ("spec", 2, "IngressSpec", False)],
    "IngressSpec": [("defaultBackend", 1, "IngressBackend", False),
                    ("tls", 2, "IngressTLS", R), ("rules", 3, "IngressRule", R),
                    ("ingressClassName", 4, STRING, False)],
    "IngressTLS": [("hosts", 1, STRING, R), ("secretName", 2, STRING, False)],
    "IngressRule": [("host", 1, STRING, False),
                    ("ingressRuleValue", 2, "IngressRuleValue", False)],
    "IngressRuleValue": [("http", 1, "HTTPIngressRuleValue", False)],
    "HTTPIngressRuleValue": [("paths", 1, "HTTPIngressPath", R)],
    "HTTPIngressPath": [("path", 1, STRING, False), ("backend", 2, "IngressBackend", False),
                        ("pathType", 3, STRING, False)],
    "IngressBackend": [("service", 4, "IngressServiceBackend", False)],
    "IngressServiceBackend": [("name", 1, STRING, False),
                              ("port", 2, "ServiceBackendPort", False)],
    "ServiceBackendPort": [("name", 1, STRING, False), ("number", 2, I32, False)],
    "HorizontalPodAutoscaler": [("metadata", 1, "ObjectMeta", False),
                                ("spec", 2, "HorizontalPodAutoscalerSpec", False)],
    "HorizontalPodAutoscalerSpec": [
        ("scaleTargetRef", 1, "CrossVersionObjectReference", False),
        ("minReplicas", 2, I32, False), ("maxReplicas", 3, I32, False),
        ("metrics", 4, "MetricSpec", R)],
    "CrossVersionObjectReference": [("kind", 1, STRING, False), ("name", 2, STRING, False),
                                    ("apiVersion", 3, STRING, False)],
    "MetricSpec": [("type", 1, STRING, False), ("resource", 4, "ResourceMetricSource", False)],
    "ResourceMetricSource": [("name", 1, STRING, False), ("target", 2, "MetricTarget", False)],
    "MetricTarget": [("type", 1, STRING, False), ("value", 2, "Quantity", False),
                     ("averageValue", 3, "Quantity", False),
                     ("averageUtilization", 4, I32, False)],
}
# Pointer fields of the Go types: an explicit zero or false is a value, not "unset".
KEEP_ZERO = frozenset({
    "replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "parallelism",
    "completions", "backoffLimit", "activeDeadlineSeconds", "terminationGracePeriodSeconds",
    "suspend", "automountServiceAccountToken", "enableServiceLinks", "immutable",
    "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
    "minReplicas", "ttlSecondsAfterFinished", "deletionGracePeriodSeconds", "hostUsers",
    "shareProcessNamespace", "setHostnameAsFQDN", "allocateLoadBalancerNodePorts",
    "priority", "manualSelector", "averageUtilization", "gracePeriodSeconds",
    "orphanDependents",
    "value"})   # PriorityClass.value: not omitempty in JSON, 0 is a class's value
# Fields whose message is written inline in JSON (IngressRule's ingressRuleValue).
INLINE = frozenset({"ingressRuleValue"})
ENTRY_TYPES = frozenset({"StringEntry", "BytesEntry", "QuantityEntry"})
# k8s.io/api/rbac/v1 and authentication/v1's TokenRequest: ``kubectl create role|clusterrole|
# rolebinding|clusterrolebinding|token``.
RBAC: Table = {
    "PolicyRule": [("verbs", 1, STRING, R), ("apiGroups", 2, STRING, R),
                   ("resources", 3, STRING, R), ("resourceNames", 4, STRING, R),
                   ("nonResourceURLs", 5, STRING, R)],
    "Role": [("metadata", 1, "ObjectMeta", False), ("rules", 2, "PolicyRule", R)],
    "ClusterRole": [("metadata", 1, "ObjectMeta", False), ("rules", 2, "PolicyRule", R),
                    ("aggregationRule", 3, "AggregationRule", False)],
    "AggregationRule": [("clusterRoleSelectors", 1, "LabelSelector", R)],
    "Subject": [("kind", 1, STRING, False), ("apiGroup", 2, STRING, False),
                ("name", 3, STRING, False), ("namespace", 4, STRING, False)],
    "RoleRef": [("apiGroup", 1, STRING, False), ("kind", 2, STRING, False),
                ("name", 3, STRING, False)],
    "RoleBinding": [("metadata", 1, "ObjectMeta", False), ("subjects", 2, "Subject", R),
                    ("roleRef", 3, "RoleRef", False)],
    "ClusterRoleBinding": [("metadata", 1, "ObjectMeta", False),
                           ("subjects", 2, "Subject", R), ("roleRef", 3, "RoleRef", False)],
    "TokenRequest": [("metadata", 1, "ObjectMeta", False),
                     ("spec", 2, "TokenRequestSpec", False)],
    "TokenRequestSpec": [("audiences", 1, STRING, R),
                         ("boundObjectRef", 3, "BoundObjectReference", False),
                         ("expirationSeconds", 4, I64, False)],
    "BoundObjectReference": [("kind", 1, STRING, False), ("apiVersion", 2, STRING, False),
                             ("name", 3, STRING, False), ("uid", 4, STRING, False)],
}
# k8s.io/api/scheduling/v1: ``kubectl create priorityclass``.
SCHEDULING: Table = {
    "PriorityClass": [("metadata", 1, "ObjectMeta", False), ("value", 2, I32, False),
                      ("globalDefault", 3, BOOL, False), ("description", 4, STRING, False),
                      ("preemptionPolicy", 5, STRING, False)],
}
TABLE: Table = {**META, **CORE, **POLICY, **WORKLOADS, **RBAC, **SCHEDULING}
RBAC_V1 = "rbac.authorization.k8s.io/v1"
# Kinds whose body is decoded: kind -> the apiVersion that must come with it.
KINDS = {"ConfigMap": "v1", "Secret": "v1", "Namespace": "v1", "ServiceAccount": "v1",
         "Service": "v1", "Deployment": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
         "Ingress": "networking.k8s.io/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
         "Role": RBAC_V1, "ClusterRole": RBAC_V1, "RoleBinding": RBAC_V1,
         "ClusterRoleBinding": RBAC_V1, "TokenRequest": "authentication.k8s.io/v1",
         "Eviction": "policy/v1", "PriorityClass": "scheduling.k8s.io/v1"}


class Undeclared(ValueError):
    """A field this table does not declare holds a value."""


def _time(message: Any) -> str | None:
    if not message.seconds:
        return None
    return datetime.fromtimestamp(message.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(message: Any, is_empty: Any) -> Any:
    """A decoded message as the JSON value Go writes (see the module's notes);
    ``is_empty(data)`` tells whether an undeclared field's bytes hold nothing."""
    name = message.DESCRIPTOR.name
    if name == "Time":
        return _time(message)
    if name == "Quantity":
        return message.string or None
    if name == "IntOrString":
        return message.intVal if message.type == 0 else message.strVal
    _check_undeclared(message, is_empty)
    out: dict[str, Any] = {}
    for descriptor, value in message.ListFields():
        key = descriptor.name
        if descriptor.type == FIELD.TYPE_MESSAGE:
            sub_type = descriptor.message_type.name
            if sub_type in ENTRY_TYPES:
                converted: Any = {entry.key: _entry(entry, is_empty) for entry in value}
            elif _repeated(descriptor):
                converted = [to_json(item, is_empty) for item in value]
            else:
                converted = to_json(value, is_empty)
                if key in INLINE and isinstance(converted, dict):
                    out.update(converted)
                    continue
        elif descriptor.type == FIELD.TYPE_BYTES:
            converted = base64.b64encode(value).decode()
        else:
            converted = list(value) if _repeated(descriptor) else value
        if converted in ("", 0, False, None, [], {}) and not (
                key in KEEP_ZERO and converted is not None and converted != ""):
            continue
        out[key] = converted
    return out


def _repeated(descriptor: Any) -> bool:
    # protobuf 7 has is_repeated only; older runtimes the label.
    repeated = getattr(descriptor, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return bool(descriptor.label == FIELD.LABEL_REPEATED)


def _entry(entry: Any, is_empty: Any) -> Any:
    value = entry.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str):
        return value
    return to_json(value, is_empty)


def _check_undeclared(message: Any, is_empty: Any) -> None:
    for number, data in unknown_fields(message):
        if (isinstance(data, int) and data == 0) or (isinstance(data, bytes) and is_empty(data)):
            continue
        raise Undeclared(f"field {number} of {message.DESCRIPTOR.name}")


_classes: dict[str, Any] = {}


def _is_empty(data: bytes) -> bool:
    """Whether undeclared bytes hold nothing: an empty string or message, or a message of
    zero values only (gogo-protobuf writes those for every non-pointer field)."""
    if not data:
        return True
    try:
        holder = parse(_classes["Empty"], data)
    except NotDecodable:
        return False                      # a string with characters
    return all((isinstance(value, int) and value == 0) or
               (isinstance(value, bytes) and _is_empty(value))
               for _, value in unknown_fields(holder))


def decode(raw: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body as the JSON object it stands for; NotDecodable for a
    body that is not the envelope, a kind not listed, or an undeclared field's value."""
    if not _classes:
        _classes.update(message_classes("kompy.k8s", {**ENVELOPE, **TABLE, "Empty": []},
                                        syntax="proto2"))
    if not raw.startswith(MAGIC):
        raise NotDecodable("the body does not start with Kubernetes' protobuf magic bytes")
    envelope = parse(_classes["Unknown"], raw[len(MAGIC):])
    kind, api_version = envelope.typeMeta.kind, envelope.typeMeta.apiVersion
    if kind not in REVIEWS and KINDS.get(kind) != api_version:
        raise NotDecodable(f"{api_version}/{kind} is not accepted as protobuf; send it as "
                           "JSON")
    obj = parse(_classes[kind], envelope.raw)
    if kind in REVIEWS:
        out = to_dict(obj)
        out.pop("metadata", None)
    else:
        try:
            out = to_json(obj, _is_empty)
        except Undeclared as error:
            raise NotDecodable(f"{kind} has {error}, which kompy does not read from "
                               "protobuf; send it as JSON") from None
    out["kind"] = kind
    out["apiVersion"] = api_version
    return dict(out)
