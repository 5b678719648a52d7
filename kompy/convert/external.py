"""Services that live outside the cluster: ExternalName Services (a DNS CNAME in the cluster).

- A Compose service marked ``x-kompy: {service: {external_name: HOST}}`` runs elsewhere on
  Kubernetes (a managed database, a service of another team): it gets no workload, only a
  Service of its name of type ExternalName pointing at HOST, so the other services keep
  reaching ``db:5432`` (their resolver follows the CNAME). Its aliases (network aliases,
  ``links`` aliases naming it, ``container_name``) point at HOST too.
- ``external_links: ["CONTAINER[:ALIAS]"]`` links containers started outside the project
  (compose-spec "external_links"). Each becomes an ExternalName Service named ALIAS (else
  CONTAINER) pointing at where that container's service lives in the cluster. A Compose
  container name ``<project>_<service>_<n>`` (Compose v1; also ``<project>-<service>-<n>``
  when the parts are unambiguous) is a service of another Compose project, which kompy
  converts into the namespace of that project's name: ``<service>.<project>.svc.cluster.local``.
  Any other container name is kept as the host name, with a warning to set it right.

https://kubernetes.io/docs/concepts/services-networking/service/#externalname
"""

from __future__ import annotations

import re
from typing import Any

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.services import service_aliases
from kompy.convert.shared import render, tool_annotations
from kompy.errors import KeyPath
from kompy.model import Service
from kompy.model.keys import compose_keys

CLUSTER_DOMAIN = "cluster.local"
# What still means something for an external service: its name and where it is.
_KEPT = frozenset({"x-kompy", "labels", "annotations", "networks", "container_name",
                   "profiles", "extends"})


def is_external(ctx: ConvertContext, service: Service | str) -> bool:
    return ctx.settings(service).external_name is not None


def build_external_services(ctx: ConvertContext) -> list[dict[str, Any]]:
    """ExternalName Services for external services and for every ``external_links`` entry."""
    out: list[dict[str, Any]] = []
    for name in sorted(ctx.project.services):
        service = ctx.project.services[name]
        if is_external(ctx, service):
            out += _external_service(ctx, service)
    taken: dict[str, tuple[str, KeyPath]] = {}
    for name in sorted(ctx.project.services):
        out += _external_links(ctx, ctx.project.services[name], taken)
    return out


def _external_service(ctx: ConvertContext, service: Service) -> list[dict[str, Any]]:
    settings = ctx.settings(service)
    host = str(settings.external_name)
    base: KeyPath = ("services", service.name)
    path = settings.sources.get("external_name", (*base, "x-kompy", "service"))
    name = ctx.name(service)
    out = _render(ctx, name, host, ctx.labels(service))
    ctx.mapped(path, f"Service/{name} (ExternalName {host})")
    unused = [key for key in _set_keys(service) if key not in _KEPT]
    for key in unused:
        ctx.record((*base, key), "dropped", None,
                   f"{service.name} runs outside the cluster (x-kompy.service.external_name)")
    if unused:
        ctx.warn(base, f"{service.name} runs outside the cluster at {host}: it gets an "
                 f"ExternalName Service and no workload, so its {', '.join(unused)} "
                 f"{'is' if len(unused) == 1 else 'are'} not converted",
                 hint="remove x-kompy.service.external_name to run it in the cluster")
    for net in service.networks:
        ctx.approximated((*base, "networks", net), f"Service/{name}",
                         "the ExternalName Service resolves in the whole namespace")
    for alias in service_aliases(ctx, service, name):
        out += _render(ctx, alias, host, ctx.labels(service))
    return out


def _external_links(ctx: ConvertContext, service: Service,
                    taken: dict[str, tuple[str, KeyPath]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    services = {ctx.name(name) for name in ctx.project.services}
    for index, entry in enumerate(service.other.get("external_links") or ()):
        path: KeyPath = ("services", service.name, "external_links", index)
        container, _, alias = str(entry).partition(":")
        name = k8s_name(alias or container)
        host, guessed = external_host(container)
        if name in services:
            ctx.warn(path, f"external link {alias or container!r} is also a service's name; "
                     "the service keeps it")
            ctx.record(path, "dropped", None, "the name is a service of the project")
            continue
        if name in taken:
            if taken[name][0] != host:
                ctx.warn(path, f"external link {alias or container!r} names another "
                         f"container than {format_path(taken[name][1])}; it resolves to "
                         f"{taken[name][0]} only")
            ctx.mapped(path, f"Service/{name} (ExternalName {taken[name][0]})")
            continue
        taken[name] = (host, path)
        out += _render(ctx, name, host, ctx.project_labels())
        if guessed:
            ctx.approximated(path, f"Service/{name} (ExternalName {host})",
                             f"container {container} taken for service {host.split('.')[0]} "
                             f"of the Compose project {host.split('.')[1]}, converted into "
                             f"the namespace of that name")
        else:
            ctx.warn(path, f"external link {container!r} names a container outside the "
                     f"project: Service {name!r} points at the host name {host!r}, which "
                     "resolves in a cluster only if its DNS knows it",
                     hint="point it at the right host: a service `x-kompy: {service: "
                     "{external_name: HOST}}`, or edit the Service's externalName")
            ctx.approximated(path, f"Service/{name} (ExternalName {host})",
                             "the container's host name in the cluster is a guess")
    return out


def external_host(container: str) -> tuple[str, bool]:
    """Where a container outside the project lives in the cluster: (host, whether it was
    read from Compose's container naming)."""
    parts = re.fullmatch(r"([a-z0-9][a-z0-9-]*)_([a-z0-9][a-z0-9_-]*)_(\d+)", container)
    if parts is None:
        dashed = container.split("-")
        if len(dashed) == 3 and dashed[2].isdigit() and all(dashed[:2]):
            parts = re.fullmatch(r"(.+)-(.+)-(\d+)", container)
    if parts is not None:
        project, service = k8s_name(parts.group(1)), k8s_name(parts.group(2))
        return f"{service}.{project}.svc.{CLUSTER_DOMAIN}", True
    host = ".".join(k8s_name(label) for label in container.split(".") if label)
    return host or k8s_name(container), False


def _render(ctx: ConvertContext, name: str, host: str, labels: dict[str, str]
            ) -> list[dict[str, Any]]:
    return render(ctx, "externalname.yaml.j2", {
        "metadata": ctx.metadata(name, labels, tool_annotations(ctx) or None),
        "external_name": host})


def _set_keys(service: Service) -> list[str]:
    """The Compose keys the service sets (typed ones that differ from their default, and
    the untyped rest)."""
    out = []
    defaults = Service(name=service.name)
    for key, spec in compose_keys(Service).items():
        if getattr(service, spec.field) != getattr(defaults, spec.field):
            out.append(key)
    out += [key for key in service.other if key not in out]
    return sorted(out)


def format_path(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)
