"""An Ingress from ``kompose.service.expose`` (with ``.tls-secret`` and
``.ingress-class-name``) or ``x-kompy.ingress``, routing to the service's Service.

Kompose's label: ``"true"`` (any host) or ``"host1,host2/path"``; every host/path pair is a
path of the host's rule (``pathType: Prefix``). The backend is the Service port for
``x-kompy.ingress.port`` (a container port) or, as Kompose does, the Service's first port.
"""

from __future__ import annotations

from typing import Any

from kompy.convert.context import ConvertContext
from kompy.convert.services import ServicePlan, plan_service
from kompy.convert.shared import render, tool_annotations
from kompy.errors import ConvertError, KeyPath
from kompy.model import Service


def build_ingresses(ctx: ConvertContext, service: Service) -> list[dict[str, Any]]:
    """An Ingress from kompose.service.expose (+ tls-secret, ingress-class-name) or x-kompy."""
    ingress = ctx.settings(service).ingress
    if ingress is None:
        return []
    path = ctx.settings(service).sources.get(
        "ingress", ("services", service.name, "labels", "kompose.service.expose"))
    plan = plan_service(ctx, service)
    if plan is None or not plan.ports:
        ctx.dropped(path, f"{service.name} has no ports, so it cannot be exposed by an Ingress",
                    hint="add the port the web server listens on under ports: or expose:")
        return []
    if plan.kind == "headless":
        ctx.dropped(path, f"{service.name} is headless, so it cannot be exposed by an Ingress")
        return []
    port = _ingress_port(plan, ingress.port, path)
    rules: dict[str | None, list[str]] = {}
    for rule in ingress.rules:
        paths = rules.setdefault(rule.host, [])
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


def _ingress_port(plan: ServicePlan, wanted: int | None, path: KeyPath) -> int:
    """The Service port the Ingress routes to: the one for container port ``wanted``, else the
    first TCP port (Kompose uses the Service's first port)."""
    tcp = [port for port in plan.ports if port.protocol == "TCP"]
    if wanted is not None:
        for port in tcp:
            if port.target_port == wanted:
                return port.port
        raise ConvertError(f"the Ingress port {wanted} is not a TCP port of the service",
                           key_path=path,
                           hint="ports: " + ", ".join(str(p.target_port) for p in tcp))
    return (tcp or list(plan.ports))[0].port
