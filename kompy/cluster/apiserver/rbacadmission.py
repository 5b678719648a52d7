"""RBAC's write checks: escalation prevention on roles and bindings, and their validation.

As kube-apiserver's RBAC storage (pkg/registry/rbac): a user may create or update a Role or
ClusterRole only with every permission it grants (or the ``escalate`` verb on it), and a
RoleBinding or ClusterRoleBinding only with every permission of the role it references (or
the ``bind`` verb on that role); only those allowed everything (``escalate``) may give a
ClusterRole an ``aggregationRule``; a binding's ``roleRef`` cannot change. So nobody gains
by editing RBAC what they could not do already.
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kompy.client.errors import ApiError, Invalid
from kompy.client.objects import Obj
from kompy.client.resources import Resource
from kompy.cluster.apiserver.authn import UserInfo
from kompy.cluster.apiserver.authz import Attributes, Decision
from kompy.cluster.apiserver.rbac import MASTERS, RbacAuthorizer, expand
from kompy.cluster.apiserver.rbacpolicy import GROUP

ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def check_write(authorizer: RbacAuthorizer, user: UserInfo | None, res: Resource, obj: Obj,
                old: Obj | None) -> None:
    """Raise Invalid or Forbidden when ``user`` may not store ``obj`` (a role or binding)."""
    if res.kind in BINDING_KINDS:
        _validate_binding(res, obj, old)
    if user is None or MASTERS in user.groups:
        return
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    if res.kind in ROLE_KINDS:
        if _may(authorizer, user, "escalate", res.plural, namespace, name):
            return
        if res.kind == "ClusterRole" and obj.get("aggregationRule"):
            raise _forbidden(res, name, "must have cluster-admin privileges to use the "
                                        "aggregationRule")
        _no_escalation(authorizer, user, res, name, namespace, obj.get("rules") or [])
    elif res.kind in BINDING_KINDS:
        ref = obj.get("roleRef") or {}
        role_plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        if _may(authorizer, user, "bind", role_plural, namespace, str(ref.get("name"))):
            return
        rules = authorizer.role_rules(ref, namespace)
        if rules is None:
            kind = str(ref.get("kind") or "").lower()
            raise _forbidden(res, name, f'{kind}.{GROUP} "{ref.get("name")}" not found')
        _no_escalation(authorizer, user, res, name, namespace, rules)


def _may(authorizer: RbacAuthorizer, user: UserInfo, verb: str, plural: str, namespace: str,
         name: str) -> bool:
    decision, _ = authorizer.authorize(Attributes(user, verb, namespace, GROUP, "v1", plural,
                                                  "", name))
    return decision is Decision.ALLOW


def _no_escalation(authorizer: RbacAuthorizer, user: UserInfo, res: Resource, name: str,
                   namespace: str, rules: list[Obj]) -> None:
    grants, _ = authorizer.grants(user, namespace)
    held = [rule for grant in grants for rule in grant.rules]
    missing = _missing(held, rules)
    if missing:
        groups = " ".join(json.dumps(g) for g in user.groups)
        raise _forbidden(res, name, f"user {json.dumps(user.name)} (groups=[{groups}]) is "
                                    "attempting to grant RBAC permissions not currently "
                                    "held:\n" + "\n".join(_compact(r) for r in missing))


def _missing(held: list[Obj], rules: list[Obj]) -> list[Obj]:
    """The permissions of ``rules`` that ``held`` lacks, one rule per object and verbs."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for rule in rules:
        for atom in expand(rule):
            if not any(_covers(owner, atom) for owner in held):
                verbs = out.setdefault(atom[1:], [])
                if atom[0] not in verbs:
                    verbs.append(atom[0])
    missing = []
    for (group, resource, name), verbs in out.items():
        if name.startswith("url:"):
            missing.append({"nonResourceURLs": [name[4:]], "verbs": verbs})
        else:
            missing.append({"apiGroups": [group], "resources": [resource],
                            **({"resourceNames": [name]} if name else {}), "verbs": verbs})
    return missing


def covered(held: list[Obj], rule: Obj) -> bool:
    """Whether the ``held`` rules grant everything ``rule`` does (rbac validation.Covers)."""
    return all(any(_covers(owner, atom) for owner in held) for atom in expand(rule))


def _covers(owner: Obj, atom: tuple[str, str, str, str]) -> bool:
    verb, group, resource, name = atom
    if not _has(owner.get("verbs"), verb):
        return False
    if name.startswith("url:"):
        url = name[4:]
        return any(u == "*" or u == url or (u.endswith("*") and url.startswith(u[:-1]))
                   for u in owner.get("nonResourceURLs") or [])
    if owner.get("nonResourceURLs") or not _has(owner.get("apiGroups"), group):
        return False
    if not any(_resource_covers(r, resource) for r in owner.get("resources") or []):
        return False
    names = owner.get("resourceNames") or []
    return not names or (bool(name) and name in names)


def _has(values: Iterable[str] | None, wanted: str) -> bool:
    found = list(values or [])
    return "*" in found or wanted in found


def _resource_covers(owner: str, requested: str) -> bool:
    if owner in ("*", requested):
        return True
    # "*/scale" covers "deployments/scale"
    return owner.startswith("*/") and "/" in requested and \
        requested.split("/", 1)[1] == owner[2:]


def _compact(rule: Obj) -> str:
    """A rule as Go's ``CompactString`` prints it: ``{APIGroups:[""], Resources:["pods"],
    Verbs:["delete"]}``."""
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("resourceNames", "ResourceNames"),
                       ("nonResourceURLs", "NonResourceURLs"), ("verbs", "Verbs")):
        values = rule.get(key)
        if values or (key == "apiGroups" and not rule.get("nonResourceURLs")):
            parts.append(f"{label}:[{' '.join(json.dumps(v) for v in values or [])}]")
    return "{" + ", ".join(parts) + "}"


def _forbidden(res: Resource, name: str, why: str) -> ApiError:
    error = ApiError(403, "Forbidden", f'{res.plural}.{GROUP} "{name}" is forbidden: {why}')
    error.body = {"details": {"name": name, "group": GROUP, "kind": res.plural}}
    return error


# -- validation ----------------------------------------------------------------------------------

def _validate_binding(res: Resource, obj: Obj, old: Obj | None) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    problems: list[str] = []
    ref = obj.get("roleRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        problems.append("roleRef.name: Required value")
        ref = ref if isinstance(ref, dict) else {}
    allowed = ("ClusterRole",) if res.kind == "ClusterRoleBinding" else ROLE_KINDS
    if ref.get("kind") not in allowed:
        problems.append(f'roleRef.kind: Unsupported value: "{ref.get("kind") or ""}": '
                        f"supported values: {', '.join(json.dumps(k) for k in allowed)}")
    if ref.get("apiGroup") not in (GROUP,):
        problems.append(f'roleRef.apiGroup: Unsupported value: "{ref.get("apiGroup") or ""}": '
                        f'supported values: "{GROUP}"')
    for i, subject in enumerate(obj.get("subjects") or []):
        where = f"subjects[{i}]"
        if not isinstance(subject, dict):
            problems.append(f"{where}: Invalid value: must be an object")
            continue
        if subject.get("kind") not in SUBJECT_KINDS:
            problems.append(f'{where}.kind: Unsupported value: "{subject.get("kind") or ""}": '
                            'supported values: "ServiceAccount", "User", "Group"')
        if not subject.get("name"):
            problems.append(f"{where}.name: Required value")
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace") and \
                res.kind == "ClusterRoleBinding":
            problems.append(f"{where}.namespace: Required value")
    if old is not None and isinstance(old.get("roleRef"), dict) and \
            old["roleRef"] != obj.get("roleRef"):
        problems.append(f"roleRef: Invalid value: {json.dumps(obj.get('roleRef'))}: "
                        "cannot change roleRef")
    if problems:
        raise Invalid(422, "Invalid", f'{res.kind}.{GROUP} "{name}" is invalid: ' +
                      ", ".join(problems))
