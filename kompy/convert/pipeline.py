"""The conversion, step by step: plan pods, build and render each workload with its Services
(kompy.convert.services), Ingresses (ingress) and HorizontalPodAutoscaler (autoscaling), add
ExternalName Services (external), the claims, NetworkPolicies (netpolicy) and Namespace,
order, validate."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from kompy.convert.autoscaling import build_hpa
from kompy.convert.context import ConvertContext
from kompy.convert.conversion import Conversion
from kompy.convert.external import build_external_services, is_external
from kompy.convert.groups import plan_units
from kompy.convert.ingress import build_ingresses
from kompy.convert.netpolicy import build_network_policies
from kompy.convert.options import ConvertOptions
from kompy.convert.security import check_security
from kompy.convert.services import build_services
from kompy.convert.shared import tool_annotations
from kompy.convert.sharedstorage import share_claims
from kompy.convert.specs import ClaimSpec
from kompy.convert.validate import set_cache_dir, validate_all
from kompy.convert.workloads import build_workload, render_workload
from kompy.errors import (
    ConvertError,
    Diagnostic,
    KompyError,
    MultiError,
    SourceLocation,
    UserError,
    raise_all,
)
from kompy.model import Project

if TYPE_CHECKING:
    from kompy.client.objects import Obj

# Apply order: what others refer to comes first (kubectl apply -f of a folder sorts by name,
# so -o DIR file names carry this order too).
KIND_ORDER = (
    "Namespace", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Service",
    "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "HorizontalPodAutoscaler",
    "Ingress", "NetworkPolicy",
)
_RANK = {kind: index for index, kind in enumerate(KIND_ORDER)}


def object_key(obj: Obj) -> tuple[int, str, str]:
    kind = str(obj.get("kind", ""))
    return (_RANK.get(kind, len(KIND_ORDER)), kind, str(obj.get("metadata", {}).get("name", "")))


def convert(project: Project, options: ConvertOptions) -> Conversion:
    """Convert ``project``; every object is validated against the Kubernetes schemas."""
    # The objects built here are trees (no reference cycles), so the cyclic collector's
    # passes over a heap growing by thousands of dicts only cost time (~20% at 5,000
    # services); it is paused for the conversion and restored after.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(project, options)
    finally:
        if was_enabled:
            gc.enable()


def _run(project: Project, options: ConvertOptions) -> Conversion:
    if options.cache_dir:
        set_cache_dir(options.cache_dir)
    ctx = ConvertContext(project, options)
    _check_settings(ctx)
    _check_names(ctx)
    units = plan_units(ctx)
    objects: list[Obj] = []
    claims: dict[str, ClaimSpec] = {}
    errors: list[UserError] = []
    pods = [(unit, *build_workload(ctx, unit)) for unit in units]
    share_claims(ctx, pods)  # pods sharing a ReadWriteOnce claim: one node (issue #9)
    for unit, spec, built in pods:
        errors.extend(check_security(ctx, built.pod, unit.services))
        for claim in built.claims:
            claims.setdefault(claim.name, claim)
        objects.extend(built.objects)
        workload = render_workload(ctx, spec)
        objects.extend(workload)
        for service in unit.services:
            objects.extend(build_services(ctx, service))
            objects.extend(build_ingresses(ctx, service))
        objects.extend(build_hpa(ctx, unit.primary, workload[0]))
    objects.extend(build_external_services(ctx))
    raise_all(errors)
    for name in sorted(claims):
        claims[name].annotations.update(tool_annotations(ctx))
        objects.extend(ctx.render("pvc.yaml.j2", claim=claims[name]))
    if options.network_policies:
        objects.extend(build_network_policies(ctx))
    _report_project_keys(ctx)
    if options.namespace and options.create_namespace:
        objects.extend(ctx.render("namespace.yaml.j2", labels=ctx.project_labels(),
                                  annotations=tool_annotations(ctx)))
    ordered = _dedupe(sorted(objects, key=object_key))
    sources = [ctx.sources.get(id(obj), "") for obj in ordered]
    if options.validate:
        validate_all(ordered, sources, ctx.kube_version)
    if options.strict and ctx.diagnostics:
        raise MultiError([d.to_error() for d in ctx.diagnostics])
    diagnostics = sorted(ctx.diagnostics, key=_position)
    return Conversion(objects=ordered, diagnostics=diagnostics,
                      report=list(ctx.report), sources=sources)


def _position(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    loc = diagnostic.location or SourceLocation()
    return (loc.file, loc.line, loc.column, diagnostic.message)


def _check_settings(ctx: ConvertContext) -> None:
    """Read every service's settings first, so all bad labels are reported at once."""
    errors: list[KompyError] = []
    for name in sorted(ctx.project.services):
        try:
            ctx.settings(name)
        except MultiError as exc:
            errors.extend(exc.errors)
        except KompyError as exc:
            errors.append(exc)
    if errors:
        raise MultiError(errors) if len(errors) > 1 else errors[0]


def _check_names(ctx: ConvertContext) -> None:
    """Two services whose Kubernetes names coincide ("web_app", "web-app") would overwrite
    each other's objects."""
    owners: dict[str, str] = {}
    errors: list[KompyError] = []
    for name in sorted(ctx.project.services):
        k8s = ctx.name(name)
        if k8s in owners:
            path = ("services", name)
            errors.append(ConvertError(
                f"services {owners[k8s]!r} and {name!r} both become Kubernetes objects "
                f"named {k8s!r}", location=ctx.locate(path), key_path=path,
                hint="rename one, or give it another name with x-kompy: {name: ...}"))
        else:
            owners[k8s] = name
    raise_all(errors)


def _dedupe(objects: list[Obj]) -> list[Obj]:
    """One object per (kind, namespace, name): services sharing a config or volume may each
    ask for it."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for obj in objects:
        meta = obj.get("metadata", {})
        key = (str(obj.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))
        if key not in seen:
            seen.add(key)
            out.append(obj)
    return out


_NO_MEANING = {
    "develop": "develop (watch rules) is for `kompy dev`; it has no Kubernetes meaning",
    "logging": "logging drivers are a node setting in Kubernetes",
    "ulimits": "ulimits have no Kubernetes equivalent (set them in the image or runtime)",
    "devices": "devices need a device plugin in Kubernetes",
    "stop_signal": "Kubernetes always sends SIGTERM; set STOPSIGNAL in the image",
    "profiles": None,
    "cgroup_parent": "cgroup_parent has no Kubernetes equivalent",
    "userns_mode": "userns_mode has no Kubernetes equivalent",
    "runtime": "runtime: use a RuntimeClass in a --templates override",
    "mac_address": "mac_address has no Kubernetes equivalent",
    "oom_score_adj": "oom_score_adj has no Kubernetes equivalent",
    "storage_opt": "storage_opt has no Kubernetes equivalent",
}


# Untyped service keys that a builder maps (and reports) itself.
# volumes, gpus, services, external.py
_MAPPED_ELSEWHERE = frozenset({"volumes_from", "gpus", "links", "external_links"})


def _report_project_keys(ctx: ConvertContext) -> None:
    """Keys with no Kubernetes meaning: one warning each (service keys builders do not map);
    ``develop``, written for ``kompy dev`` on purpose, gets one warning for all services."""
    developed: list[str] = []
    for name in sorted(ctx.project.services):
        service = ctx.project.services[name]
        if is_external(ctx, service):
            continue  # every key reported by kompy.convert.external
        base = ("services", name)
        for key, message in _NO_MEANING.items():
            value = getattr(service, key, None)
            if value is None:
                value = service.other.get(key)
            if not value:
                continue
            if message is None:
                ctx.mapped((*base, key), "used by kompy")
            elif key == "develop":
                developed.append(name)
                ctx.record((*base, key), "dropped", None, message)
            else:
                ctx.dropped((*base, key), message)
        for key in sorted(service.other):
            if key not in _NO_MEANING and key not in _MAPPED_ELSEWHERE:
                ctx.dropped((*base, key), f"{key} has no Kubernetes equivalent")
        if service.container_name:
            ctx.approximated((*base, "container_name"), "container name",
                             "pods get generated names; the container keeps this name")
    if developed:
        others = f" (services {', '.join(developed[1:])} too)" if developed[1:] else ""
        ctx.warn(("services", developed[0], "develop"), f"{_NO_MEANING['develop']}{others}")
