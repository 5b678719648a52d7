"""The bootstrap RBAC policy: the ClusterRoles and ClusterRoleBindings every cluster starts with.

The user-facing roles of kube-apiserver's bootstrap policy
(plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, its testdata/cluster-roles.yaml):
``cluster-admin``; ``admin``, ``edit`` and ``view``, which are aggregated (empty rules, an
``aggregationRule`` selecting ``rbac.authorization.k8s.io/aggregate-to-*`` roles, filled in
by the aggregation controller) from ``system:aggregate-to-admin|edit|view``, which carry the
rules; ``system:basic-user`` (the self reviews), ``system:discovery`` and
``system:public-info-viewer``, bound to every authenticated user; and ``cluster-admin``
bound to ``system:masters``. The rules are upstream's, for the resources upstream names
(ones kompy does not serve are harmless: they match nothing).
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings
"""

from __future__ import annotations

import contextlib

from kompy.client import resources
from kompy.client.errors import Conflict, NotFound
from kompy.client.objects import Obj
from kompy.cluster.apiserver.handlers import Api, Route

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = {"kubernetes.io/bootstrapping": "rbac-defaults"}
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _role(name: str, rules: list[Obj] | None, *, aggregate_to: str = "",
          aggregates: str = "") -> Obj:
    labels = dict(BOOTSTRAPPING)
    if aggregate_to:
        labels[f"{GROUP}/aggregate-to-{aggregate_to}"] = "true"
    role: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                 "metadata": {"name": name, "labels": labels,
                              "annotations": {AUTOUPDATE: "true"}},
                 "rules": rules}
    if aggregates:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"{GROUP}/aggregate-to-{aggregates}": "true"}}]}
    return role


def _binding(name: str, role: str, groups: list[str]) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(BOOTSTRAPPING),
                         "annotations": {AUTOUPDATE: "true"}},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": g} for g in groups]}


_TO_VIEW = [
    rule([""], ["configmaps", "endpoints", "persistentvolumeclaims",
                "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                "replicationcontrollers/scale", "serviceaccounts", "services",
                "services/status"], READ),
    rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log",
                "pods/status", "replicationcontrollers/status", "resourcequotas",
                "resourcequotas/status"], READ),
    rule([""], ["namespaces"], READ),
    rule(["discovery.k8s.io"], ["endpointslices"], READ),
    rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                    "deployments/scale", "deployments/status", "replicasets",
                    "replicasets/scale", "replicasets/status", "statefulsets",
                    "statefulsets/scale", "statefulsets/status"], READ),
    rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
         READ),
    rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
]
_TO_EDIT = [
    rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                "services/proxy"], READ),
    rule([""], ["serviceaccounts"], ["impersonate"]),
    rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    rule([""], ["pods/eviction"], ["create"]),
    rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                "services/proxy"], WRITE),
    rule([""], ["serviceaccounts/token"], ["create"]),
    rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                    "replicasets", "replicasets/scale", "statefulsets",
                    "statefulsets/scale"], WRITE),
    rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    rule(["batch"], ["cronjobs", "jobs"], WRITE),
    rule(["policy"], ["poddisruptionbudgets"], WRITE),
    rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    rule(["coordination.k8s.io"], ["leases"], ALL),
]
_TO_ADMIN = [
    rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    rule([GROUP], ["rolebindings", "roles"], ALL),
]
_PUBLIC_INFO = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def cluster_roles() -> list[Obj]:
    return [
        _role("cluster-admin", [rule(["*"], ["*"], ["*"]),
                                {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _role("admin", None, aggregates="admin"),
        _role("edit", None, aggregate_to="admin", aggregates="edit"),
        _role("view", None, aggregate_to="edit", aggregates="view"),
        _role("system:aggregate-to-admin", _TO_ADMIN, aggregate_to="admin"),
        _role("system:aggregate-to-edit", _TO_EDIT, aggregate_to="edit"),
        _role("system:aggregate-to-view", _TO_VIEW, aggregate_to="view"),
        _role("system:basic-user", [
            rule(["authorization.k8s.io"], ["selfsubjectaccessreviews",
                                            "selfsubjectrulesreviews"], ["create"]),
            rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        _role("system:discovery", [{"nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
            "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        _role("system:public-info-viewer", [{"nonResourceURLs": _PUBLIC_INFO,
                                             "verbs": ["get"]}]),
    ]


def cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", "cluster-admin", ["system:masters"]),
        _binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
        _binding("system:discovery", "system:discovery", ["system:authenticated"]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 ["system:authenticated", "system:unauthenticated"]),
    ]


def bootstrap_policy(api: Api) -> None:
    """Create the bootstrap roles and bindings the store lacks (kube-apiserver's
    ``rbac/bootstrap-roles`` post-start hook; it also reconciles changed ones marked
    ``autoupdate``, kompy only adds missing ones, so a user's edit stays)."""
    for objs, plural in ((cluster_roles(), "clusterroles"),
                         (cluster_role_bindings(), "clusterrolebindings")):
        res = resources.lookup(plural)
        for obj in objs:
            try:
                api.store.get(res, None, obj["metadata"]["name"])
            except NotFound:
                with contextlib.suppress(Conflict):
                    api.create(Route(res, None, None, None), obj)
