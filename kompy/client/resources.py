"""The registry of kinds kompy's API server serves and kompy's client knows.

Each kind has its plural (the URL segment), singular, short names (as ``kubectl`` accepts:
``po``, ``deploy``, ``svc``...), API group/version and whether it lives in a namespace.
Lookups accept any of these spellings, case-insensitively, plus ``plural.group``
(``deployments.apps``) as kubectl prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kompy.client.errors import NotFound


@dataclass(frozen=True)
class Resource:
    kind: str
    plural: str
    singular: str
    group: str            # "" for the core group
    version: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    # Kinds whose status is written only through the /status subresource (kubelet, controllers).
    has_status: bool = True
    # Discovery's categories: ``all`` is what ``kubectl get all`` lists (kube-apiserver puts
    # pods, services and the workload kinds in it).
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """``deployment.apps`` as kubectl prints it in ``created`` lines; ``pod`` for core."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        """The URL path of the collection, or of one object and its subresource."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


def _r(kind: str, plural: str, group: str, version: str, *short: str,
       namespaced: bool = True, has_status: bool = True, all_: bool = False) -> Resource:
    return Resource(kind, plural, kind.lower(), group, version, namespaced, tuple(short),
                    has_status, ("all",) if all_ else ())


RBAC_GROUP = "rbac.authorization.k8s.io"

RESOURCES: tuple[Resource, ...] = (
    _r("Namespace", "namespaces", "", "v1", "ns", namespaced=False),
    _r("Node", "nodes", "", "v1", "no", namespaced=False),
    _r("Pod", "pods", "", "v1", "po", all_=True),
    _r("Service", "services", "", "v1", "svc", all_=True),
    _r("Endpoints", "endpoints", "", "v1", "ep", has_status=False),
    _r("ConfigMap", "configmaps", "", "v1", "cm", has_status=False),
    _r("Secret", "secrets", "", "v1", has_status=False),
    _r("PersistentVolumeClaim", "persistentvolumeclaims", "", "v1", "pvc"),
    _r("PersistentVolume", "persistentvolumes", "", "v1", "pv", namespaced=False),
    _r("ResourceQuota", "resourcequotas", "", "v1", "quota"),
    _r("LimitRange", "limitranges", "", "v1", "limits", has_status=False),
    _r("Event", "events", "", "v1", "ev", has_status=False),
    _r("ServiceAccount", "serviceaccounts", "", "v1", "sa", has_status=False),
    _r("Deployment", "deployments", "apps", "v1", "deploy", all_=True),
    _r("ReplicaSet", "replicasets", "apps", "v1", "rs", all_=True),
    _r("StatefulSet", "statefulsets", "apps", "v1", "sts", all_=True),
    _r("DaemonSet", "daemonsets", "apps", "v1", "ds", all_=True),
    _r("ControllerRevision", "controllerrevisions", "apps", "v1", has_status=False),
    _r("Job", "jobs", "batch", "v1", all_=True),
    _r("CronJob", "cronjobs", "batch", "v1", "cj", all_=True),
    _r("Ingress", "ingresses", "networking.k8s.io", "v1", "ing"),
    _r("IngressClass", "ingressclasses", "networking.k8s.io", "v1", namespaced=False,
       has_status=False),
    _r("StorageClass", "storageclasses", "storage.k8s.io", "v1", "sc", namespaced=False,
       has_status=False),
    _r("NetworkPolicy", "networkpolicies", "networking.k8s.io", "v1", "netpol",
       has_status=False),
    _r("HorizontalPodAutoscaler", "horizontalpodautoscalers", "autoscaling", "v2", "hpa",
       all_=True),
    _r("Role", "roles", RBAC_GROUP, "v1", has_status=False),
    _r("RoleBinding", "rolebindings", RBAC_GROUP, "v1", has_status=False),
    _r("ClusterRole", "clusterroles", RBAC_GROUP, "v1", namespaced=False, has_status=False),
    _r("ClusterRoleBinding", "clusterrolebindings", RBAC_GROUP, "v1", namespaced=False,
       has_status=False),
    _r("PodDisruptionBudget", "poddisruptionbudgets", "policy", "v1", "pdb"),
    _r("PriorityClass", "priorityclasses", "scheduling.k8s.io", "v1", "pc", namespaced=False,
       has_status=False),
    _r("Lease", "leases", "coordination.k8s.io", "v1", has_status=False),
)

_INDEX: dict[str, Resource] = {}
for _res in RESOURCES:
    for _key in (_res.kind, _res.plural, _res.singular, *_res.short_names):
        _INDEX.setdefault(_key.lower(), _res)
        if _res.group:
            _INDEX.setdefault(f"{_key.lower()}.{_res.group}", _res)


def lookup(name: str) -> Resource:
    """The resource for a kind, plural, singular or short name; NotFound for others."""
    found = _INDEX.get(name.lower()) or _INDEX.get(name.lower().split("/", 1)[0])
    if found is None:
        raise NotFound(404, "NotFound", f'the server doesn\'t have a resource type "{name}"',
                       hint="known kinds: " + ", ".join(sorted(r.plural for r in RESOURCES)))
    return found


def for_object(obj: dict[str, object]) -> Resource:
    """The resource of a manifest, by its ``kind`` and checked against its ``apiVersion``."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise NotFound(404, "NotFound", "object has no kind")
    res = _INDEX.get(kind.lower())
    api_version = obj.get("apiVersion")
    if res is None or res.kind != kind or (api_version and api_version != res.api_version):
        raise NotFound(404, "NotFound",
                       f'no matches for kind "{kind}" in version "{api_version}"',
                       hint="kompy's built-in cluster serves: " + ", ".join(
                           f"{r.api_version}/{r.kind}" for r in RESOURCES))
    return res


def by_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def find(group: str, version: str, plural: str) -> Resource | None:
    for res in RESOURCES:
        if res.group == group and res.version == version and res.plural == plural:
            return res
    return None
