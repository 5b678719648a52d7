"""NetworkPolicies for ``--network-policies``: only pods that share a Compose network talk.

Pods carry Kompose's label ``io.kompose.network/<project>-<network>: "true"`` for each
network they join (``network_pod_labels``, applied by the pod builder).
"""

from __future__ import annotations

from typing import Any

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.services import is_placeholder, plan_service
from kompy.convert.shared import render, tool_annotations
from kompy.model import Service

NETWORK_LABEL = "io.kompose.network"  # Kompose's pod label: io.kompose.network/<project>-<net>


def service_networks(ctx: ConvertContext, service: Service) -> list[str]:
    """The Compose networks a service's pod joins ("default" when none is listed)."""
    if service.network_mode or ctx.settings(service).external_name is not None:
        return []  # host / none / service:x / container:x / outside the cluster: no network
    return list(service.networks) or ["default"]


def network_label(ctx: ConvertContext, network: str) -> str:
    """Kompose's pod label key for a network: io.kompose.network/<project>-<network>."""
    return f"{NETWORK_LABEL}/{k8s_name(f'{ctx.project.name}-{network}')}"


def network_pod_labels(ctx: ConvertContext, service: Service) -> dict[str, str]:
    """Labels the pod template of ``service`` carries with ``--network-policies`` (else none)."""
    if not ctx.options.network_policies:
        return {}
    return {network_label(ctx, net): "true" for net in service_networks(ctx, service)}


def build_network_policies(ctx: ConvertContext) -> list[dict[str, Any]]:
    """With --network-policies: only pods sharing a Compose network may connect to each other.

    One policy per network selects the network's pods and admits traffic from pods of the
    same network (as Kompose's --generate-network-policies); one default-deny policy makes
    pods outside every network (network_mode: none) unreachable; and each service with
    published ports admits traffic from anywhere on them, as Compose publishes them on the
    host (so NodePort, LoadBalancer and Ingress traffic still arrives).
    """
    if not ctx.options.network_policies:
        return []
    out: list[dict[str, Any]] = []
    networks: list[str] = []
    for service in ctx.project.services.values():
        for net in service_networks(ctx, service):
            if net not in networks:
                networks.append(net)
    annotations = tool_annotations(ctx) or None
    project = k8s_name(ctx.project.name)
    out += render(ctx, "networkpolicy.yaml.j2", {
        "metadata": ctx.metadata(f"{project}-default-deny", ctx.project_labels(), annotations),
        "pod_selector": {"app.kubernetes.io/part-of": ctx.project_labels()[
            "app.kubernetes.io/part-of"]},
        "from_labels": None, "ports": None,
    })
    for net in networks:
        label = network_label(ctx, net)
        out += render(ctx, "networkpolicy.yaml.j2", {
            "metadata": ctx.metadata(label.split("/", 1)[1], ctx.project_labels(), annotations),
            "pod_selector": {label: "true"}, "from_labels": {label: "true"}, "ports": None,
        })
        for service in ctx.project.services.values():
            if net in service_networks(ctx, service) and net in service.networks:
                ctx.mapped(("services", service.name, "networks", net),
                           f"NetworkPolicy/{label.split('/', 1)[1]}")
    for service in ctx.project.services.values():
        if ctx.settings(service).external_name is None:
            out += _published_policy(ctx, service, annotations)
    return out


def _published_policy(ctx: ConvertContext, service: Service,
                      annotations: dict[str, str] | None) -> list[dict[str, Any]]:
    plan = plan_service(ctx, service)
    if plan is None:
        return []
    published = {(m.target, m.protocol.upper()) for m in service.ports}
    if ctx.settings(service).ingress is not None and plan.ports:
        first = plan.ports[0]
        published.add((first.target_port, first.protocol))
    ports = [{"port": port.target_port, "protocol": port.protocol} for port in plan.ports
             if (port.target_port, port.protocol) in published and not is_placeholder(port)]
    unique = [p for i, p in enumerate(ports) if p not in ports[:i]]
    if not unique:
        return []
    return render(ctx, "networkpolicy.yaml.j2", {
        "metadata": ctx.metadata(f"{plan.name}-published", ctx.labels(service), annotations),
        "pod_selector": ctx.selector(service), "from_labels": None, "ports": unique,
    })
