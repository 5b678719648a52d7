"""``kompy describe KIND NAME``: one object laid out as ``kubectl describe`` lays it out,
with the Events that name it.

Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs
(:mod:`kompy.kubectl.describe_kinds`), Services, ConfigMaps, Secrets (keys and sizes, never
values), Namespaces, Nodes and PersistentVolumeClaims (:mod:`kompy.kubectl.describe_other`),
PersistentVolumes and StorageClasses (:mod:`kompy.kubectl.describe_storage`), ResourceQuotas,
LimitRanges and PriorityClasses (:mod:`kompy.kubectl.describe_policy`) have kubectl 1.33's
own layouts; any other kind gets kubectl's generic one (every field, labelled as kubectl
labels them).
Columns are aligned by a port of Go's tabwriter (:mod:`kompy.kubectl.tabwriter`), so the
output is kubectl's to the space.
"""

from __future__ import annotations

from collections.abc import Callable

from kompy.client import KubeClient, resources
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.kubectl import describe_kinds as kinds
from kompy.kubectl import describe_other as other
from kompy.kubectl import describe_policy as policy
from kompy.kubectl import describe_storage as storage

Describer = Callable[[KubeClient, Obj, "list[Obj] | None"], str]

DESCRIBERS: dict[str, Describer] = {
    "Pod": kinds.pod, "Deployment": kinds.deployment, "ReplicaSet": kinds.replicaset,
    "StatefulSet": kinds.statefulset, "DaemonSet": kinds.daemonset, "Job": kinds.job,
    "CronJob": kinds.cronjob, "Service": other.service, "ConfigMap": other.configmap,
    "Secret": other.secret, "Namespace": other.namespace, "Node": other.node,
    "PersistentVolumeClaim": other.claim, "PersistentVolume": storage.volume,
    "StorageClass": storage.storage_class, "ResourceQuota": policy.quota,
    "LimitRange": policy.limit_range, "PriorityClass": policy.priority_class,
}
# kubectl's describers that show no Events.
WITHOUT_EVENTS = frozenset({"Secret", "Namespace", "ResourceQuota", "LimitRange"})


def describe(client: KubeClient, kind: str, name: str, namespace: str | None) -> str:
    res = resources.lookup(kind)
    obj = client.get(res.plural, name, namespace if res.namespaced else None)
    obj.setdefault("kind", res.kind)
    obj.setdefault("apiVersion", res.api_version)
    events = None if res.kind in WITHOUT_EVENTS else _events(client, res, obj)
    return DESCRIBERS.get(res.kind, other.generic)(client, obj, events)


def _events(client: KubeClient, res: resources.Resource, obj: Obj) -> list[Obj] | None:
    meta = obj.get("metadata") or {}
    # kubectl's searchEvents: the object's name, namespace, kind and uid (an object of the
    # same name made again does not inherit its predecessor's events).
    selector = f"involvedObject.name={meta.get('name')},involvedObject.kind={res.kind}"
    if meta.get("namespace"):
        selector += f",involvedObject.namespace={meta['namespace']}"
    if meta.get("uid"):
        selector += f",involvedObject.uid={meta['uid']}"
    try:
        items = client.list("events", meta.get("namespace") or "default",
                            field_selector=selector)["items"]
    except ApiError:
        return None
    return list(items)
