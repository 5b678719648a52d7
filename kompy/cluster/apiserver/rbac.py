"""The RBAC authorizer: Roles, ClusterRoles and their bindings decide every request.

As kube-apiserver's (plugin/pkg/auth/authorizer/rbac): a request is allowed when a rule of
a role bound to the user matches it; nothing ever denies. ClusterRoleBindings grant their
ClusterRole everywhere; a RoleBinding grants its Role or ClusterRole in its own namespace
only; non-resource URLs (``/healthz``, ``/apis``) only through ClusterRoleBindings. A rule
matches when its ``verbs``, ``apiGroups`` and ``resources`` (``pods/log`` for a subresource,
``*/scale`` for one on any resource, ``*`` for all) hold the request's, and its
``resourceNames``, if any, hold the object's name (so they never match list, watch, create
or deletecollection). Subjects are users, groups and ServiceAccounts
(``system:serviceaccount:NS:NAME``). Members of ``system:masters`` are allowed everything
before RBAC is asked, as kube-apiserver's privileged-group authorizer: the admin token keeps
working whatever happens to the bindings.
https://kubernetes.io/docs/reference/access-authn-authz/rbac/

The roles and bindings are read from the store into an index that is rebuilt only when one
of the four kinds was written since (Store.version_of), and the rules that apply to a user
in a namespace, and the decisions made, are cached against that index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from kompy.client import resources
from kompy.client.objects import Obj
from kompy.cluster.apiserver.authn import UserInfo
from kompy.cluster.apiserver.authz import Attributes, Decision, Rules
from kompy.cluster.store.sqlite import Store

MASTERS = "system:masters"
KINDS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
CACHE_LIMIT = 2048


@dataclass(frozen=True)
class Grant:
    """Rules a binding gives a user, and the binding (for the reason of an allow)."""

    rules: list[Obj]
    why: str


@dataclass
class _Index:
    roles: dict[tuple[str, str], list[Obj]] = field(default_factory=dict)
    cluster_roles: dict[str, list[Obj]] = field(default_factory=dict)
    # The bindings by namespace ("" for ClusterRoleBindings).
    bindings: dict[str, list[Obj]] = field(default_factory=dict)
    # Caches of what was worked out from this index (they go with it when it is rebuilt):
    # the rules a user has in a namespace, and decisions, for the requests clients repeat
    # (a controller's list and watch, a dashboard's polls).
    grants: dict[tuple[str, tuple[str, ...], str], tuple[list[Grant], list[str]]] = field(
        default_factory=dict)
    decisions: dict[Attributes, tuple[Decision, str]] = field(default_factory=dict)


class RbacAuthorizer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version: tuple[int, ...] | None = None
        self._index = _Index()

    # -- the Authorizer protocol -------------------------------------------------------------

    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        user = attributes.user
        if MASTERS in user.groups:
            return Decision.ALLOW, ""
        index = self._fresh()
        with self._lock:
            known = index.decisions.get(attributes)
        if known is not None:
            return known
        decision = self._decide(attributes)
        with self._lock:
            if len(index.decisions) >= CACHE_LIMIT * 4:
                index.decisions.clear()
            index.decisions[attributes] = decision
        return decision

    def _decide(self, attributes: Attributes) -> tuple[Decision, str]:
        user = attributes.user
        namespace = attributes.namespace if attributes.is_resource else ""
        grants, errors = self.grants(user, namespace)
        for grant in grants:
            if not attributes.is_resource and grant.why.startswith("RoleBinding"):
                continue
            if any(rule_allows(rule, attributes) for rule in grant.rules):
                return Decision.ALLOW, f"RBAC: allowed by {grant.why}"
        return Decision.NO_OPINION, ("RBAC: " + "; ".join(errors)) if errors else ""

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        if MASTERS in user.groups:
            return Rules([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                         [{"verbs": ["*"], "nonResourceURLs": ["*"]}])
        grants, errors = self.grants(user, namespace)
        resource_rules: list[Obj] = []
        non_resource: list[Obj] = []
        for grant in grants:
            for rule in grant.rules:
                if rule.get("nonResourceURLs"):
                    if not grant.why.startswith("RoleBinding"):
                        non_resource.append({"verbs": list(rule.get("verbs") or []),
                                             "nonResourceURLs": list(rule["nonResourceURLs"])})
                    continue
                shown = {key: list(rule.get(key) or []) for key in
                         ("verbs", "apiGroups", "resources", "resourceNames") if
                         rule.get(key)}
                shown.setdefault("apiGroups", [])
                resource_rules.append(shown)
        return Rules(resource_rules, non_resource, bool(errors), "; ".join(errors))

    # -- what applies to a user ------------------------------------------------------------------

    def grants(self, user: UserInfo, namespace: str) -> tuple[list[Grant], list[str]]:
        """The rules every binding gives ``user`` in ``namespace`` (cluster-wide ones
        first), and the problems met (a binding naming a role that does not exist)."""
        index = self._fresh()
        key = (user.name, user.groups, namespace)
        with self._lock:
            cached = index.grants.get(key)
        if cached is not None:
            return cached
        grants: list[Grant] = []
        errors: list[str] = []
        scopes = [""] + ([namespace] if namespace else [])
        for scope in scopes:
            for binding in index.bindings.get(scope, []):
                subject = _matching_subject(binding, user)
                if subject is None:
                    continue
                rules, error = _role_rules(index, binding, scope)
                if error:
                    errors.append(error)
                    continue
                kind = binding.get("kind") or ""
                ref = binding.get("roleRef") or {}
                where = f"/{scope}" if scope else ""
                grants.append(Grant(rules, f'{kind} "{_name(binding)}{where}" of '
                                           f'{ref.get("kind")} "{ref.get("name")}" to '
                                           f"{subject}"))
        with self._lock:
            if len(index.grants) >= CACHE_LIMIT:
                index.grants.clear()
            index.grants[key] = (grants, errors)
        return grants, errors

    def role_rules(self, ref: Obj, namespace: str) -> list[Obj] | None:
        """The rules of a roleRef (a ClusterRole, or a Role of ``namespace``); None when it
        does not exist."""
        index = self._fresh()
        if ref.get("kind") == "ClusterRole":
            return index.cluster_roles.get(str(ref.get("name")))
        return index.roles.get((namespace, str(ref.get("name"))))

    def _fresh(self) -> _Index:
        version = tuple(self.store.version_of(kind) for kind in KINDS)
        with self._lock:
            if version == self._version:
                return self._index
        index = _Index()
        for kind in KINDS:
            objs, _ = self.store.list(resources.lookup(kind))
            for obj in objs:
                meta = obj.get("metadata") or {}
                ns, nm = str(meta.get("namespace") or ""), str(meta.get("name") or "")
                if kind == "roles":
                    index.roles[(ns, nm)] = list(obj.get("rules") or [])
                elif kind == "clusterroles":
                    index.cluster_roles[nm] = list(obj.get("rules") or [])
                else:
                    index.bindings.setdefault(ns, []).append(obj)
        with self._lock:
            self._index, self._version = index, version
        return index


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _role_rules(index: _Index, binding: Obj, scope: str) -> tuple[list[Obj], str]:
    ref = binding.get("roleRef") or {}
    name = str(ref.get("name") or "")
    if ref.get("kind") == "ClusterRole":
        found = index.cluster_roles.get(name)
        if found is None:
            return [], f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        return found, ""
    found = index.roles.get((scope, name))
    if found is None:
        return [], f'role.rbac.authorization.k8s.io "{name}" not found'
    return found, ""


def _matching_subject(binding: Obj, user: UserInfo) -> str | None:
    """How a binding's subjects name ``user`` (for the reason), or None."""
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), str(subject.get("name") or "")
        if kind == "User" and name == user.name:
            return f'User "{name}"'
        if kind == "Group" and name in user.groups:
            return f'Group "{name}"'
        if kind == "ServiceAccount":
            namespace = str(subject.get("namespace") or "")
            if user.name == f"system:serviceaccount:{namespace}:{name}":
                return f'ServiceAccount "{name}/{namespace}"'
    return None


# -- rule matching (k8s.io/component-helpers/auth/rbac/validation) --------------------------------

def rule_allows(rule: Obj, attributes: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attributes.verb not in verbs:
        return False
    if not attributes.is_resource:
        return _url_matches(rule.get("nonResourceURLs") or [], attributes.path)
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attributes.group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], attributes.resource,
                             attributes.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


def _resource_matches(rule_resources: list[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule_resources:
        if item in ("*", combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def _url_matches(urls: list[str], path: str) -> bool:
    for url in urls:
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def expand(rule: Obj) -> Iterator[tuple[str, str, str, str]]:
    """Every (verb, group, resource, name) a resource rule grants ("" for any name); a
    non-resource rule yields (verb, "", "", url) with a leading marker ``url:``."""
    verbs = rule.get("verbs") or []
    if rule.get("nonResourceURLs"):
        for verb in verbs:
            for url in rule["nonResourceURLs"]:
                yield verb, "", "", "url:" + url
        return
    names = rule.get("resourceNames") or [""]
    for verb in verbs:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for name in names:
                    yield verb, group, resource, name
