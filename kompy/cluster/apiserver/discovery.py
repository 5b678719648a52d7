"""Discovery: which groups, versions and resources the server serves.

Two forms, as kube-apiserver answers them:

* the classic one: ``/api`` (APIVersions), ``/apis`` (APIGroupList) and one
  APIResourceList per group version (``/api/v1``, ``/apis/apps/v1``);
* aggregated discovery, everything in one answer per root, when the client asks for it
  with ``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``
  (kubectl 1.30+ asks for v2, 1.27-1.29 for v2beta1; both have the same shape).
  https://kubernetes.io/docs/concepts/overview/kubernetes-api/#aggregated-discovery

Each resource has its verbs, short names and categories (``all`` is what ``kubectl get
all`` lists), and its subresources with the kind they answer (``deployments/scale`` is an
autoscaling/v1 Scale).
"""

from __future__ import annotations

from typing import Any

from kompy.client import resources
from kompy.client.errors import NotFound
from kompy.client.objects import Obj
from kompy.client.resources import RESOURCES, Resource
from kompy.cluster.apiserver import authz

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# kube-apiserver serves no deletecollection for namespaces.
NAMESPACE_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]
SCALED = ("Deployment", "ReplicaSet", "StatefulSet")
DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_VERSIONS = ("v2", "v2beta1")


def _subresources(res: Resource) -> list[tuple[str, tuple[str, str, str], list[str]]]:
    """(name, (group, version, kind) answered, verbs) of a resource's subresources."""
    own = (res.group, res.version, res.kind)
    out: list[tuple[str, tuple[str, str, str], list[str]]] = []
    if res.has_status:
        out.append(("status", own, SUB_VERBS))
    if res.kind in SCALED:
        out.append(("scale", ("autoscaling", "v1", "Scale"), SUB_VERBS))
    if res.kind == "ServiceAccount":
        out.append(("token", ("authentication.k8s.io", "v1", "TokenRequest"), ["create"]))
    if res.kind == "Pod":
        out += [("attach", ("", "v1", "PodAttachOptions"), ["create", "get"]),
                ("exec", ("", "v1", "PodExecOptions"), ["create", "get"]),
                ("log", ("", "v1", "Pod"), ["get"]),
                ("portforward", ("", "v1", "PodPortForwardOptions"), ["create", "get"]),
                ("eviction", ("policy", "v1", "Eviction"), ["create"])]
    return out


def _verbs(res: Resource) -> list[str]:
    return NAMESPACE_VERBS if res.kind == "Namespace" else VERBS


def _reviews(group: str, version: str) -> list[tuple[str, str]]:
    """(plural, kind) of the create-only review resources of a group version."""
    return [(plural, kind) for (g, v, plural), kind in authz.REVIEWS.items()
            if g == group and v == version]


def group_versions() -> dict[str, list[str]]:
    """Group -> versions, preferred first ("" is the core group)."""
    groups: dict[str, list[str]] = {}
    for res in RESOURCES:
        if res.version not in groups.setdefault(res.group, []):
            groups[res.group].append(res.version)
    for group, version, _ in authz.REVIEWS:
        if version not in groups.setdefault(group, []):
            groups[group].append(version)
    return groups


def resource_list(group: str, version: str) -> Obj:
    """The APIResourceList of ``/api/v1`` or ``/apis/GROUP/VERSION``."""
    found = resources.by_group_version(group, version)
    reviews = _reviews(group, version)
    if not found and not reviews:
        raise NotFound(404, "NotFound", f"the server could not find the requested resource "
                                        f"({group or 'core'}/{version})")
    entries: list[Obj] = []
    for res in found:
        entry: Obj = {"name": res.plural, "singularName": res.singular,
                      "namespaced": res.namespaced, "kind": res.kind, "verbs": _verbs(res)}
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        entries.append(entry)
        for sub, (sub_group, sub_version, kind), verbs in _subresources(res):
            one: Obj = {"name": f"{res.plural}/{sub}", "singularName": "",
                        "namespaced": res.namespaced, "kind": kind, "verbs": verbs}
            if (sub_group, sub_version) != (group, version):
                one.update(group=sub_group, version=sub_version)
            entries.append(one)
    for plural, kind in reviews:
        entries.append({"name": plural, "singularName": kind.lower(),
                        "namespaced": plural in authz.NAMESPACED_REVIEWS,
                        "kind": kind, "verbs": ["create"]})
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": entries}


def group_list() -> Obj:
    """The APIGroupList of ``/apis``."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
         "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
        for g, vs in sorted(group_versions().items()) if g]}


def core_versions() -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"]}


# -- aggregated discovery -----------------------------------------------------------------------

def aggregated_version(accept: str | None) -> str | None:
    """The apidiscovery version the Accept header asks for first (v2, v2beta1), or None
    when it wants the classic documents."""
    for clause in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in clause.split(";")[1:] if "=" in p)
        if params.get("g") == DISCOVERY_GROUP and params.get("as") == "APIGroupDiscoveryList" \
                and params.get("v") in DISCOVERY_VERSIONS:
            return params["v"]
    return None


def content_type(version: str) -> str:
    return f"application/json;g={DISCOVERY_GROUP};v={version};as=APIGroupDiscoveryList"


def _gvk(group: str, version: str, kind: str) -> Obj:
    return {"group": group, "version": version, "kind": kind}


def _resource_discovery(res: Resource) -> Obj:
    entry: Obj = {"resource": res.plural, "responseKind": _gvk(res.group, res.version,
                                                                res.kind),
                  "scope": "Namespaced" if res.namespaced else "Cluster",
                  "singularResource": res.singular, "verbs": _verbs(res)}
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    subs = [{"subresource": sub, "responseKind": _gvk(*kind), "verbs": verbs}
            for sub, kind, verbs in _subresources(res)]
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(core: bool, version: str) -> Obj:
    """The APIGroupDiscoveryList of ``/api`` (core) or ``/apis`` (every other group)."""
    items: list[Obj] = []
    for group, versions in sorted(group_versions().items()):
        if (group == "") != core:
            continue
        entries: list[Obj] = []
        for ver in versions:
            listed: list[Any] = [_resource_discovery(r)
                                 for r in resources.by_group_version(group, ver)]
            listed += [{"resource": plural, "responseKind": _gvk(group, ver, kind),
                        "scope": "Namespaced" if plural in authz.NAMESPACED_REVIEWS
                        else "Cluster", "singularResource": kind.lower(),
                        "verbs": ["create"]} for plural, kind in _reviews(group, ver)]
            entries.append({"version": ver, "resources": listed, "freshness": "Current"})
        items.append({"metadata": {"name": group} if group else {}, "versions": entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"{DISCOVERY_GROUP}/{version}",
            "metadata": {}, "items": items}
