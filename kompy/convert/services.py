"""Services from a service's ports, expose, labels and network aliases.

Service type: ``kompose.service.type`` / ``x-kompy.service.type`` on the service, else
``--service-type`` for services that have ``ports:``, else ClusterIP. A service that only
``expose``s ports is never made external by the project-wide flag: Compose's ``expose``
makes ports reachable from other services only (compose-spec "expose").

Ports (docs/convert.md, "Services"): for ClusterIP and headless Services the port is the
container port, so in-cluster clients keep the Compose address ``web:80``; every published
Compose port is listed in the annotation ``kompy.dev/host-ports: "8080:80/tcp,..."`` (host
port : Service port / protocol) that kompy's built-in cluster proxy answers on. NodePort and
LoadBalancer Services use the published port as the Service port, as Kompose does, plus the
container port as a second entry when it differs. One entry per (port, protocol); names
follow Kompose ("8080", then "8080-udp" when the number is taken) unless the Compose port
has a ``name``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.images import local_image
from kompy.convert.shared import render, tool_annotations
from kompy.convert.specs import ServicePlan, ServicePort
from kompy.errors import KeyPath
from kompy.model import PortMapping, Service
from kompy.model.ports import expose_ports

HOST_PORTS_ANNOTATION = "kompy.dev/host-ports"

_TYPES = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer",
          "headless": "ClusterIP"}
_TRAFFIC = {"cluster": "Cluster", "local": "Local"}
_NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range

def service_type(ctx: ConvertContext, service: Service) -> str:
    """clusterip | nodeport | loadbalancer | headless, from the label, x-kompy or the flag."""
    wanted = ctx.settings(service).service_type
    if wanted:
        return wanted.lower()
    flag = (ctx.options.service_type or "").lower()
    if flag and service.ports:
        return flag
    # deploy.endpoint_mode: dnsrr is DNS round robin over the replicas, without a virtual IP:
    # what a headless Service is (compose-spec deploy.md, "endpoint_mode").
    if service.deploy is not None and service.deploy.endpoint_mode == "dnsrr":
        return "headless"
    return "clusterip"


def plan_service(ctx: ConvertContext, service: Service) -> ServicePlan | None:
    """The Service of ``service``, or None when it has no ports (and is not headless).

    Planned once per conversion (the Ingress and NetworkPolicy builders ask again), so its
    warnings and report records are made once."""
    plans = ctx.service_plans
    if service.name not in plans:
        plans[service.name] = _plan_service(ctx, service)
    return plans[service.name]


def _plan_service(ctx: ConvertContext, service: Service) -> ServicePlan | None:
    kind = service_type(ctx, service)
    base: KeyPath = ("services", service.name)
    loopback = _loopback_ports(service)
    if kind in ("nodeport", "loadbalancer") and loopback:
        # `127.0.0.1:5432:5432` publishes on the host's loopback only: nothing outside the
        # host reaches it under Compose. Kubernetes opens every port of a NodePort or
        # LoadBalancer Service to the outside, so such a service's Service stays internal.
        index = loopback[0]
        mapping = service.ports[index]
        others = len([m for m in service.ports if m.published]) > len(loopback)
        ctx.warn((*base, "ports", index), f"{service.name} publishes port {mapping.published} "
                 f"on {mapping.host_ip} only (a loopback address): its Service stays "
                 f"ClusterIP instead of {_TYPES[kind]}"
                 + (", so its other published ports are not exposed either" if others else ""),
                 hint="reach it with `kubectl port-forward`" + (
                     "; expose the other ports with an Ingress (kompose.service.expose) or "
                     "publish every port on 0.0.0.0" if others else ""))
        kind = "clusterip"
    external = kind in ("nodeport", "loadbalancer")
    entries: list[tuple[int, int, str, str | None, str | None]] = []  # port, target, proto, ...
    host_ports: list[str] = []
    seen: set[tuple[int, str]] = set()

    def add(port: int, target: int, proto: str, name: str | None, app: str | None) -> None:
        if (port, proto) not in seen:
            seen.add((port, proto))
            entries.append((port, target, proto, name, app))

    for mapping in service.ports:
        published = _published(mapping)
        proto = mapping.protocol.upper()
        public = external and published is not None
        if public:
            assert published is not None
            add(published, mapping.target, proto, mapping.name, mapping.app_protocol)
            if published != mapping.target:
                add(mapping.target, mapping.target, proto, None, mapping.app_protocol)
            service_port = published
        else:
            add(mapping.target, mapping.target, proto, mapping.name, mapping.app_protocol)
            service_port = mapping.target
        if published is not None:
            entry = f"{published}:{service_port}/{mapping.protocol.lower()}"
            if entry not in host_ports:
                host_ports.append(entry)
    for text in service.expose:
        for port, proto in expose_ports(text):
            add(port, port, proto, None, None)
    if not entries:
        if not reachable_by_name(service):
            return None
        image = ctx.options.images.get(local_image(ctx, service))
        if image is not None and image.exposed:
            # The image's EXPOSE ports, as Docker lists them (docker inspect, Config.
            # ExposedPorts): what the service listens on, so a ClusterIP Service can route.
            for port, proto in image.exposed:
                add(port, port, proto, None, None)
            ctx.approximated(base, f"Service/{ctx.name(service)} spec.ports",
                             f"no ports in the Compose file: the EXPOSE ports of image "
                             f"{image.ref} ({', '.join(str(p) for p, _ in image.exposed)})")
        else:
            # Compose resolves every service's name on the project network. A headless
            # Service gives the name (DNS answers with the pods' addresses, every port
            # reachable); Kubernetes wants a port in it, so a placeholder, as Kompose.
            kind = "headless"
            add(HEADLESS_PORT, HEADLESS_PORT, "TCP", HEADLESS_PORT_NAME, None)
            ctx.approximated(base, f"Service/{ctx.name(service)} (headless)",
                             "no ports known: a headless Service makes the name resolve to "
                             "the pods (placeholder port 55555)")
    ports = _named([ServicePort(name or "", port, target, proto, app)
                    for port, target, proto, name, app in entries])
    plan = ServicePlan(ctx.name(service), kind, tuple(ports), tuple(host_ports))
    return _with_settings(ctx, service, plan)


# Kompose's placeholder for a Service of a service without ports (kubernetes/kubernetes#32766).
HEADLESS_PORT = 55555
HEADLESS_PORT_NAME = "headless"


def governing_service(ctx: ConvertContext, service: Service) -> str | None:
    """The headless Service a StatefulSet running ``service`` names in ``serviceName``: its
    own Service when that is headless, else ``<name>-headless`` (recorded in
    ``ctx.governing`` for :func:`build_services`); None when it has no Service."""
    plan = plan_service(ctx, service)
    if plan is None:
        return None
    name = plan.name if plan.kind == "headless" else k8s_name(f"{plan.name}-headless")
    ctx.governing[service.name] = name
    return name


def reachable_by_name(service: Service) -> bool:
    """Whether other services resolve this one's name under Compose: every service on a
    project network; not one sharing another's network stack or the host's, or with none."""
    mode = service.network_mode or ""
    return not (mode in ("host", "none") or mode.startswith(("service:", "container:")))


def is_placeholder(port: ServicePort) -> bool:
    return port.name == HEADLESS_PORT_NAME and port.port == HEADLESS_PORT


def _is_loopback(host_ip: str | None) -> bool:
    if not host_ip:
        return False
    if host_ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_ip.strip("[]")).is_loopback
    except ValueError:
        return False


def _loopback_ports(service: Service) -> list[int]:
    """Indexes of the ports ``service`` publishes on a loopback address only."""
    return [index for index, m in enumerate(service.ports)
            if m.published and _is_loopback(m.host_ip)]


def _published(mapping: PortMapping) -> int | None:
    """The host port; a host range ("8080-8090") counts as its first port."""
    if not mapping.published:
        return None
    return int(mapping.published.partition("-")[0])


def _named(ports: list[ServicePort]) -> list[ServicePort]:
    """Unique DNS-label names: the Compose name, else Kompose's "<port>" / "<port>-<proto>"."""
    used: set[str] = set()
    out: list[ServicePort] = []
    for entry in ports:
        base = k8s_name(entry.name) if entry.name else str(entry.port)
        name = base
        if name in used:
            name = f"{base}-{entry.protocol.lower()}"
        counter = 2
        while name in used:
            name = f"{base}-{counter}"
            counter += 1
        used.add(name)
        out.append(replace(entry, name=name))
    return out


def _with_settings(ctx: ConvertContext, service: Service, plan: ServicePlan) -> ServicePlan:
    """Apply kompose.service.nodeport.port and external-traffic-policy (warning when ignored)."""
    settings = ctx.settings(service)
    base: KeyPath = ("services", service.name)
    if settings.node_port is not None:
        path = settings.sources.get("node_port", (*base, "labels", "kompose.service.nodeport.port"))
        if plan.kind != "nodeport":
            ctx.warn(path, f"a node port is only used by NodePort services ({service.name} is "
                     f"{_TYPES[plan.kind]})", hint="set kompose.service.type: nodeport")
        elif plan.ports:
            low, high = _NODE_PORT_RANGE
            if not low <= settings.node_port <= high:
                ctx.warn(path, f"node port {settings.node_port} is outside Kubernetes' default "
                         f"range {low}-{high}", hint="the API server rejects it unless its "
                         "--service-node-port-range allows it")
            if len(plan.ports) > 1:
                ctx.warn(path, "kompose.service.nodeport.port applies to the first port only "
                         f"({service.name} has {len(plan.ports)})")
            first = replace(plan.ports[0], node_port=settings.node_port)
            plan = replace(plan, ports=(first, *plan.ports[1:]))
            ctx.mapped(path, f"Service/{plan.name} spec.ports[0].nodePort")
    policy = settings.external_traffic_policy
    if policy:
        path = settings.sources.get(
            "external_traffic_policy",
            (*base, "labels", "kompose.service.external-traffic-policy"))
        if plan.kind in ("nodeport", "loadbalancer"):
            plan = replace(plan, external_traffic_policy=_TRAFFIC[policy.lower()])
            ctx.mapped(path, f"Service/{plan.name} spec.externalTrafficPolicy")
        else:
            ctx.warn(path, f"an external traffic policy is only used by NodePort and "
                     f"LoadBalancer services ({service.name} is {_TYPES[plan.kind]})")
    return plan


def build_services(ctx: ConvertContext, service: Service) -> list[dict[str, Any]]:
    """The Service of ``service`` (none when it has no ports and is not headless), plus one
    ClusterIP Service per network alias, so the alias resolves as on the Compose network."""
    plan = plan_service(ctx, service)
    _report_ports(ctx, service, plan)
    _report_networks(ctx, service, plan)
    if plan is None:
        return []
    annotations = dict(tool_annotations(ctx))
    if plan.host_ports:
        annotations[HOST_PORTS_ANNOTATION] = ",".join(plan.host_ports)
    out = render(ctx, "service.yaml.j2", _service_context(
        ctx, service, plan.name, _TYPES[plan.kind], plan, annotations))
    internal = [port for port in plan.ports if port.port == port.target_port]
    governing = ctx.governing.get(service.name)
    if governing is not None and governing != plan.name:
        # A StatefulSet's pods get DNS names (web-0.web-headless) only through a headless
        # Service named in spec.serviceName (Kubernetes "StatefulSet", Stable Network ID).
        out += render(ctx, "service.yaml.j2", _service_context(
            ctx, service, governing, "ClusterIP", replace(
                plan, kind="headless", external_traffic_policy=None, ports=tuple(
                    replace(p, node_port=None) for p in internal) or plan.ports),
            tool_annotations(ctx)))
    _report_links(ctx, service)
    for alias in _aliases(ctx, service, plan):
        out += render(ctx, "service.yaml.j2", _service_context(
            ctx, service, alias, "ClusterIP",
            # A headless service's aliases are headless too: they resolve to the pods.
            replace(plan, kind="headless" if plan.kind == "headless" else "clusterip",
                    ports=tuple(
                replace(p, node_port=None) for p in internal) or plan.ports,
                external_traffic_policy=None), tool_annotations(ctx)))
    return out


def _service_context(ctx: ConvertContext, service: Service, name: str, kind: str,
                     plan: ServicePlan, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": ctx.metadata(name, ctx.labels(service), annotations or None),
        "type": kind,
        "headless": plan.kind == "headless",
        "selector": ctx.selector(service),
        "ports": [_port_context(port) for port in plan.ports],
        "external_traffic_policy": plan.external_traffic_policy,
    }


def _link_aliases(ctx: ConvertContext, service: Service) -> list[tuple[str, KeyPath]]:
    """``links: ["db:database"]`` of other services naming ``service``: the alias each gives
    it (compose-spec "links": the alias is a hostname of the linked service). Indexed once
    per conversion: asked for every service, a scan each time would be quadratic."""
    index = ctx.link_aliases
    if index is None:
        index = {}
        for name in sorted(ctx.project.services):
            for position, link in enumerate(ctx.project.services[name].other.get("links") or ()):
                target, _, alias = str(link).partition(":")
                if alias and alias != target:
                    index.setdefault(target, []).append(
                        (alias, ("services", name, "links", position)))
        ctx.link_aliases = index
    return index.get(service.name, [])


def _report_links(ctx: ConvertContext, service: Service) -> None:
    """A link without an alias needs nothing: every service resolves by name already."""
    for index, link in enumerate(service.other.get("links") or ()):
        target, _, alias = str(link).partition(":")
        if not alias or alias == target:
            ctx.mapped(("services", service.name, "links", index),
                       f"Service/{ctx.name(target) if target in ctx.project.services else target}"
                       " (every service resolves by name)")


def service_aliases(ctx: ConvertContext, service: Service, name: str) -> list[str]:
    """The alias names of a service whose own Service is ``name`` (see :func:`_aliases`)."""
    return _aliases(ctx, service, ServicePlan(name, "clusterip", (), ()))


def _aliases(ctx: ConvertContext, service: Service, plan: ServicePlan) -> list[str]:
    """Network aliases, ``links`` aliases naming this service, and its ``container_name``,
    that can become Service names (not taken by a Compose service). Docker's embedded DNS
    answers a container's name on every network it joins, so ``container_name: es`` makes
    ``es`` a hostname of the service, which projects use (awesome-compose's ELK stack sends
    to ``http://es:9200``)."""
    wanted: list[tuple[str, KeyPath, str]] = [
        (alias, ("services", service.name, "networks", net, "aliases", index), "network alias")
        for net, attachment in service.networks.items()
        for index, alias in enumerate(attachment.aliases)]
    wanted += [(alias, path, "link alias") for alias, path in _link_aliases(ctx, service)]
    if service.container_name:
        wanted.append((service.container_name, ("services", service.name, "container_name"),
                       "container name"))
    if not wanted:
        return []
    taken = {ctx.name(name) for name in ctx.project.services}
    out: list[str] = []
    for alias, path, what in wanted:
        name = k8s_name(alias)
        if name in out or name == plan.name:
            continue
        if name in taken:
            ctx.warn(path, f"{what} {alias!r} is also a service's name; "
                     "the service keeps it")
            continue
        owner = ctx.alias_owners.setdefault(name, service.name)
        if owner != service.name:
            ctx.warn(path, f"{what} {alias!r} is also an alias of {owner}; it "
                     f"resolves to {owner} only",
                     hint="Compose would balance between both; give them distinct aliases")
            continue
        out.append(name)
        if name != alias.lower():
            ctx.warn(path, f"{what} {alias!r} is not a DNS label: it resolves as {name!r} "
                     "in the cluster", hint=f"use {name!r} in Compose too")
        ctx.approximated(path, f"Service/{name}", "an alias resolves in the whole "
                         "namespace, not only on its network" if what == "network alias"
                         else "the name resolves in the whole namespace" if
                         what == "container name" else "the alias resolves in the whole "
                         "namespace, not only in the linking service")
    return out


def _report_networks(ctx: ConvertContext, service: Service, plan: ServicePlan | None) -> None:
    """What a service's networks become: NetworkPolicies (--network-policies) or nothing."""
    base: KeyPath = ("services", service.name, "networks")
    for net, attachment in service.networks.items():
        for key in ("ipv4_address", "ipv6_address"):
            if getattr(attachment, key, None):
                ctx.dropped((*base, net, key), f"{key} has no Kubernetes equivalent: pods "
                            "get their addresses from the cluster network",
                            hint="reach the service by its name instead")
        if ctx.options.network_policies:
            continue
        if _one_network(ctx):
            # Everyone on one network: exactly a namespace without NetworkPolicies.
            ctx.mapped((*base, net), "the namespace's pod network (Services resolve by name)")
        else:
            ctx.approximated((*base, net), None, "networks do not isolate pods unless "
                             "--network-policies is given; every pod can reach every Service")


def _one_network(ctx: ConvertContext) -> bool:
    """Whether every service of the project is on the default network only (cached)."""
    if ctx.one_network is None:
        ctx.one_network = all(set(service.networks) <= {"default"}
                              for service in ctx.project.services.values())
    return ctx.one_network


def _port_context(port: ServicePort) -> dict[str, Any]:
    return {"name": port.name, "port": port.port, "target_port": port.target_port,
            "protocol": port.protocol, "app_protocol": port.app_protocol,
            "node_port": port.node_port}


def _report_ports(ctx: ConvertContext, service: Service, plan: ServicePlan | None) -> None:
    base: KeyPath = ("services", service.name)
    target = f"Service/{plan.name} spec.ports" if plan else None
    settings = ctx.settings(service)
    if settings.service_type and plan is not None:
        path = settings.sources.get("service_type", (*base, "labels", "kompose.service.type"))
        ctx.mapped(path, f"Service/{plan.name} spec.type")
    endpoint_mode = service.deploy.endpoint_mode if service.deploy is not None else None
    if endpoint_mode and plan is None:
        ctx.approximated((*base, "deploy", "endpoint_mode"), None,
                         "no Service: the service has no ports")
    elif endpoint_mode and plan is not None:
        field = "spec.clusterIP: None" if plan.kind == "headless" else "spec.type"
        ctx.mapped((*base, "deploy", "endpoint_mode"), f"Service/{plan.name} {field}")
    for index, mapping in enumerate(service.ports):
        path = (*base, "ports", index)
        if target is None:
            continue
        if mapping.host_ip and _is_loopback(mapping.host_ip) and plan is not None \
                and plan.kind not in ("nodeport", "loadbalancer"):
            ctx.mapped(path, target + " (cluster-internal, as a loopback-only port)")
        elif mapping.host_ip:
            ctx.approximated(path, target, f"host_ip {mapping.host_ip} has no Kubernetes "
                             "equivalent; the port is published on every address")
        elif mapping.published and "-" in mapping.published:
            ctx.approximated(path, target, f"host port range {mapping.published}: the first "
                             "port is used")
        else:
            ctx.mapped(path, target + (f" and annotation {HOST_PORTS_ANNOTATION}"
                                       if mapping.published else ""))
    external = plan is not None and plan.kind in ("nodeport", "loadbalancer")
    for index in range(len(service.expose)):
        if target is None:
            continue
        if external:
            # Kubernetes gives every port of a NodePort/LoadBalancer Service a node port.
            ctx.approximated((*base, "expose", index), target, "the Service is "
                             f"{_TYPES[plan.kind] if plan else ''}, so this port is reachable "
                             "from outside the cluster too")
        else:
            ctx.mapped((*base, "expose", index), target)
