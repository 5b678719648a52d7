"""An Ingress from ``kompose.service.expose`` (with ``.tls-secret`` and
``.ingress-class-name``) or ``x-kompy.ingress``, routing to the service's Service.

Kompose's label: ``"true"`` (any host) or ``"host1,host2/path"``; every host/path pair is a
path of the host's rule (``pathType: Prefix``). The backend is the Service port for
``x-kompy.ingress.port`` (a container port) or, as Kompose does, the Service's first port.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kompy.convert.context import ConvertContext
from kompy.convert.services import is_placeholder, plan_service
from kompy.convert.shared import render, tool_annotations
from kompy.convert.specs import ServicePlan
from kompy.errors import ConvertError, KeyPath
from kompy.model import Service

# spec.rules[].host: a DNS-1123 subdomain, optionally "*." first; no IP address, no port
# (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/ingress-v1/).
_HOST = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def build_ingresses(ctx: ConvertContext, service: Service) -> list[dict[str, Any]]:
    """An Ingress from kompose.service.expose (+ tls-secret, ingress-class-name) or x-kompy."""
    ingress = ctx.settings(service).ingress
    if ingress is None:
        _orphan_labels(ctx, service)
        return []
    path = ctx.settings(service).sources.get(
        "ingress", ("services", service.name, "labels", "kompose.service.expose"))
    plan = plan_service(ctx, service)
    if plan is None or all(is_placeholder(port) for port in plan.ports):
        ctx.dropped(path, f"{service.name} has no ports, so it cannot be exposed by an Ingress",
                    hint="add the port the web server listens on under ports: or expose:")
        return []
    if plan.kind == "headless":
        ctx.dropped(path, f"{service.name} is headless, so it cannot be exposed by an Ingress")
        return []
    if not any(port.protocol == "TCP" for port in plan.ports):
        ctx.dropped(path, f"{service.name} has no TCP port, so it cannot be exposed by an "
                    "Ingress (HTTP runs over TCP)")
        return []
    port = _ingress_port(ctx, plan, ingress.port, path)
    rules: dict[str | None, list[str]] = {}
    for rule in ingress.rules:
        host = _host(ctx, rule.host, path)
        paths = rules.setdefault(host, [])
        if rule.path not in paths:
            paths.append(rule.path)
    hosts = [host for host in rules if host]
    annotations = tool_annotations(ctx)
    context = {
        "metadata": ctx.metadata(plan.name, ctx.labels(service), annotations or None),
        "ingress_class": ingress.ingress_class,
        "rules": [{"host": host, "paths": paths} for host, paths in rules.items()],
        "service": plan.name,
        "port": port,
        "tls": {"hosts": hosts, "secret": ingress.tls_secret} if ingress.tls_secret else None,
    }
    ctx.mapped(path, f"Ingress/{plan.name}")
    return render(ctx, "ingress.yaml.j2", context)


def _orphan_labels(ctx: ConvertContext, service: Service) -> None:
    """Kompose refuses tls-secret / ingress-class-name without kompose.service.expose; kompy
    warns (an error with --strict)."""
    for label in ("kompose.service.expose.tls-secret", "kompose.service.expose.ingress-class-name"):
        if label in service.labels:
            ctx.dropped(("services", service.name, "labels", label),
                        f"{label} is ignored without kompose.service.expose",
                        hint='add kompose.service.expose: "true" (or the host names)')


def _host(ctx: ConvertContext, host: str | None, path: KeyPath) -> str | None:
    """A rule's host, lower-cased (DNS names are case-insensitive); invalid ones are errors."""
    if host is None:
        return None
    name = host.lower().rstrip(".")
    if len(name) > 253 or not _HOST.fullmatch(name) or _is_ip(name):
        raise ConvertError(
            f"{host!r} cannot be an Ingress host", location=ctx.locate(path), key_path=path,
            hint="an Ingress host is a DNS name such as shop.example.com or *.example.com, "
                 "without a port or an IP address")
    return name


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ingress_port(ctx: ConvertContext, plan: ServicePlan, wanted: int | None,
                  path: KeyPath) -> int:
    """The Service port the Ingress routes to: the one for container port ``wanted``, else the
    first TCP port (Kompose uses the Service's first port)."""
    tcp = [port for port in plan.ports if port.protocol == "TCP"]
    if wanted is not None:
        for port in tcp:
            if port.target_port == wanted:
                return port.port
        raise ConvertError(f"the Ingress port {wanted} is not a TCP port of the service",
                           location=ctx.locate(path), key_path=path,
                           hint="ports: " + ", ".join(str(p.target_port) for p in tcp))
    return tcp[0].port
