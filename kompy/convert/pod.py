"""The pod of a Compose service (or of several services sharing one pod): containers, volumes,
init containers, and the pod-level keys (hostname, extra_hosts, dns, pid, placement...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kompy.convert.config import plan_config
from kompy.convert.container import build_container, user_ids
from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.envsecret import move_secret_env
from kompy.convert.images import platform_placement
from kompy.convert.netpolicy import network_pod_labels
from kompy.convert.security import (
    container_security,
    pod_security,
    wait_container_security,
)
from kompy.convert.seeding import Seed, add_seed_containers
from kompy.convert.services import is_placeholder, plan_service
from kompy.convert.specs import ClaimSpec, ContainerSpec, PodSpec
from kompy.convert.volumes import plan_volumes
from kompy.errors import KeyPath
from kompy.model import Service

if TYPE_CHECKING:
    from kompy.client.objects import Obj


@dataclass
class PodUnit:
    """Services that run in one pod: the first is the primary (it names the workload)."""

    name: str
    services: list[Service]

    @property
    def primary(self) -> Service:
        return self.services[0]


@dataclass
class BuiltPod:
    pod: PodSpec
    claims: list[ClaimSpec] = field(default_factory=list)
    claim_templates: list[ClaimSpec] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)  # ConfigMaps, Secrets the pod needs


def build_pod(ctx: ConvertContext, unit: PodUnit, statefulset: bool) -> BuiltPod:
    members = {s.name for s in unit.services}
    pod = PodSpec(labels={**ctx.labels(unit.primary), **ctx.selector(unit.primary)})
    built = BuiltPod(pod)
    volume_names: set[str] = set()
    seeds: list[tuple[ContainerSpec, Seed]] = []
    for service in unit.services:
        container = build_container(ctx, service)
        # Secret-looking `environment` values go to a Secret, referenced in place.
        built.objects.extend(move_secret_env(ctx, service, container))
        container.security_context = container_security(
            ctx, service, user_ids(ctx, service, ("services", service.name))) or None
        volumes = plan_volumes(ctx, service, statefulset)
        container.volume_mounts.extend(volumes.mounts)
        seeds += [(container, seed) for seed in volumes.seeds]
        _add_volumes(pod, volumes.volumes, volume_names)
        built.claims.extend(volumes.claims)
        built.claim_templates.extend(
            t for t in volumes.claim_templates
            if all(t.name != o.name for o in built.claim_templates))
        built.objects.extend(volumes.objects)
        _apply_config(ctx, service, container, pod, built, volume_names)
        container.name = _unique(container.name, {c.name for c in pod.containers})
        pod.containers.append(container)
        for init in [*_wait_containers(ctx, service, members),
                     *_user_init_containers(ctx, service)]:
            # Two services of one pod waiting for the same dependency need one wait.
            if all(i.name != init.name for i in pod.init_containers):
                pod.init_containers.append(init)
        pod.labels.update(network_pod_labels(ctx, service))
        pod.annotations.update(service.annotations)
        if service.annotations:
            ctx.mapped(("services", service.name, "annotations"), "pod annotations")
    # Docker fills new volumes from the image when it creates the containers, before any of
    # them starts: the seed containers go before the depends_on waits.
    add_seed_containers(ctx, pod, seeds)
    _pod_level(ctx, unit, pod)
    pod.security_context = pod_security(ctx, unit.services)
    if covers_token_path(pod):
        pod.automount_service_account_token = False
    return built


# Where Kubernetes mounts a pod's ServiceAccount token; /var/run is /run in today's images.
TOKEN_PATHS = ("/var/run/secrets/kubernetes.io/serviceaccount",
               "/run/secrets/kubernetes.io/serviceaccount")


# Volumes Kubernetes always mounts read-only, whatever the mount says.
READ_ONLY_VOLUMES = ("secret", "configMap", "projected", "downwardAPI")


def covers_token_path(pod: PodSpec) -> bool:
    """Whether a container mounts a read-only volume over where the ServiceAccount token
    goes (Compose secrets at /run/secrets): the runtime could not make the token's mount
    point in it and the pod would not start; and a Compose service never had an API token
    to lose, so none is mounted (automountServiceAccountToken: false)."""
    read_only = {str(v.get("name")) for v in pod.volumes
                 if any(kind in v for kind in READ_ONLY_VOLUMES)}
    for container in [*pod.init_containers, *pod.containers]:
        for mount in container.volume_mounts:
            if not (mount.get("readOnly") or mount.get("name") in read_only):
                continue
            path = str(mount.get("mountPath") or "").rstrip("/") or "/"
            if any(token == path or token.startswith(path + "/") for token in TOKEN_PATHS):
                return True
    return False


def _unique(name: str, taken: set[str]) -> str:
    """Container names must differ within a pod (two services may share container_name)."""
    candidate, index = name, 2
    while candidate in taken:
        candidate = f"{name[:60]}-{index}"
        index += 1
    return candidate


def _add_volumes(pod: PodSpec, volumes: list[Obj], names: set[str]) -> None:
    for volume in volumes:
        if volume["name"] not in names:
            names.add(volume["name"])
            pod.volumes.append(volume)


def _apply_config(ctx: ConvertContext, service: Service, container: ContainerSpec, pod: PodSpec,
                  built: BuiltPod, names: set[str]) -> None:
    """env_file, configs and secrets (kompy.convert.config)."""
    config = plan_config(ctx, service)
    built.objects.extend(config.objects)
    container.env_from.extend(config.env_from)
    container.volume_mounts.extend(config.mounts)
    _add_volumes(pod, config.volumes, names)


def _wait_containers(ctx: ConvertContext, service: Service, members: set[str]
                     ) -> list[ContainerSpec]:
    """depends_on: an init container per dependency that waits until its Service accepts
    connections (service_started and service_healthy: a Service only routes to ready pods,
    and readiness is the healthcheck, so "accepts connections" means "healthy")."""
    out: list[ContainerSpec] = []
    for dep, dependency in service.depends_on.items():
        path: KeyPath = ("services", service.name, "depends_on", dep)
        if dep in members:
            ctx.mapped(path, "containers of the same pod (they start together)")
            continue
        if dep not in ctx.project.services:
            ctx.dropped(path, f"{dep} is not part of the converted project")
            continue
        if dependency.condition == "service_completed_successfully":
            ctx.dropped(path, f"waiting for {dep} to complete has no Kubernetes equivalent",
                        hint=f"make {dep} a Job (x-kompy.job: true) and order the deploys")
            continue
        if not ctx.options.wait_init:
            ctx.dropped(path, "depends_on is not enforced (--no-wait-init)")
            continue
        host, port = _wait_target(ctx, ctx.project.services[dep])
        if port is None and _headless(ctx, ctx.project.services[dep]):
            # No port to try, but a headless Service's name resolves only while a pod is
            # ready (Kubernetes DNS, and kompy's hosts files): wait for the name. busybox's
            # nc says "bad address" for a name that does not resolve, whatever the libc.
            script = (f"while nc -w 1 {host} 1 </dev/null 2>&1 | grep -q 'bad address'; do "
                      f"echo waiting for {host} to resolve; sleep 1; done")
            ctx.approximated(path, f"initContainer wait-for-{host}", "waits until the name "
                             "resolves (a ready pod): the dependency has no known port")
        elif port is None:
            ctx.warn(path, f"{service.name} depends on {dep}, which has no Service (it is not "
                     "on the project network), so the start order is not enforced")
            ctx.record(path, "dropped", None, "dependency without a Service")
            continue
        else:
            script = (f"until nc -w 2 {host} {port} </dev/null >/dev/null 2>&1; do "
                      f"echo waiting for {host}:{port}; sleep 1; done")
            ctx.mapped(path, f"initContainer wait-for-{host}")
        out.append(ContainerSpec(
            name=k8s_name(f"wait-for-{host}"),
            image=ctx.options.wait_image,
            command=["sh", "-c", script],
            security_context=wait_container_security(),
            service=service.name,
        ))
    return out


def _headless(ctx: ConvertContext, service: Service) -> bool:
    plan = plan_service(ctx, service)
    return plan is not None and plan.kind == "headless"


def _wait_target(ctx: ConvertContext, service: Service) -> tuple[str, int | None]:
    """Host and port answering for ``service``: its Service (kompy.convert.services, whose
    port is the published one for NodePort/LoadBalancer); a headless Service resolves to the
    pods, so there it is the container port."""
    plan = plan_service(ctx, service)
    ports = ([p for p in plan.ports if p.protocol == "TCP" and not is_placeholder(p)]
             if plan is not None else [])
    if plan is None or not ports:
        return ctx.name(service), None
    port = ports[0].target_port if plan.kind == "headless" else ports[0].port
    return plan.name, port


def _user_init_containers(ctx: ConvertContext, service: Service) -> list[ContainerSpec]:
    out = []
    security: Obj = {}
    if ctx.options.security == "restricted":
        security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                    "runAsNonRoot": True}
    for init in ctx.settings(service).init_containers:
        out.append(ContainerSpec(
            name=init.name, image=init.image, command=list(init.command) or None,
            security_context=dict(security), service=service.name))
    return out


def _pod_level(ctx: ConvertContext, unit: PodUnit, pod: PodSpec) -> None:
    primary = unit.primary
    base: KeyPath = ("services", primary.name)
    settings = ctx.settings(primary)
    pod.service_account_name = settings.service_account
    if settings.image_pull_secret:
        pod.image_pull_secrets = [{"name": settings.image_pull_secret}]
    graces = [s.stop_grace_period.whole_seconds() for s in unit.services if s.stop_grace_period]
    if graces:
        pod.termination_grace_period_seconds = max(graces)
        for s in unit.services:
            if s.stop_grace_period:
                ctx.mapped(("services", s.name, "stop_grace_period"),
                           "terminationGracePeriodSeconds")
    _hostname(ctx, primary, pod, base)
    _hosts_and_dns(ctx, unit, pod)
    for service in unit.services:
        _namespaces(ctx, service, pod)
    _placement(ctx, primary, pod, base)
    for service in unit.services:
        platform_placement(ctx, service, pod)


def _hostname(ctx: ConvertContext, service: Service, pod: PodSpec, base: KeyPath) -> None:
    if service.hostname:
        host, _, domain = service.hostname.partition(".")
        pod.hostname = k8s_name(host)
        if domain:
            ctx.approximated((*base, "hostname"), "hostname",
                             "Kubernetes pod hostnames are single labels; the domain is dropped")
        else:
            ctx.mapped((*base, "hostname"), "pod hostname")
    if service.domainname:
        pod.subdomain = k8s_name(service.domainname.split(".")[0])
        ctx.approximated((*base, "domainname"), "subdomain",
                         "a pod subdomain needs a headless Service of that name")


def _hosts_and_dns(ctx: ConvertContext, unit: PodUnit, pod: PodSpec) -> None:
    by_ip: dict[str, list[str]] = {}
    dns: dict[str, list[Any]] = {"nameservers": [], "searches": [], "options": []}
    for service in unit.services:
        base: KeyPath = ("services", service.name)
        for index, entry in enumerate(service.extra_hosts):
            host, sep, ip = entry.partition("=")
            if not sep:
                host, _, ip = entry.partition(":")
            if ip == "host-gateway" or not ip:
                ctx.dropped((*base, "extra_hosts", index),
                            f"extra host {entry!r} cannot be mapped: host-gateway is a Docker "
                            "address", hint="use the node's IP address")
                continue
            names = by_ip.setdefault(ip.strip("[]"), [])
            if host not in names:
                names.append(host)
            ctx.mapped((*base, "extra_hosts", index), "hostAliases")
        for key, target in (("dns", "nameservers"), ("dns_search", "searches")):
            for value in getattr(service, key):
                if value not in dns[target]:
                    dns[target].append(value)
            if getattr(service, key):
                ctx.approximated((*base, key), f"dnsConfig.{target}",
                                 "added to the cluster DNS settings (dnsPolicy ClusterFirst) "
                                 "so service names keep resolving")
        for option in service.dns_opt:
            name, sep, value = option.partition(":")
            option_entry: Obj = {"name": name}
            if sep:
                option_entry["value"] = value
            if option_entry not in dns["options"]:
                dns["options"].append(option_entry)
        if service.dns_opt:
            ctx.mapped((*base, "dns_opt"), "dnsConfig.options")
    pod.host_aliases = [{"ip": ip, "hostnames": names} for ip, names in by_ip.items()]
    config = {k: v for k, v in dns.items() if v}
    pod.dns_config = config or None


def _namespaces(ctx: ConvertContext, service: Service, pod: PodSpec) -> None:
    base: KeyPath = ("services", service.name)
    if service.pid == "host":
        pod.host_pid = True
        ctx.mapped((*base, "pid"), "hostPID")
    elif service.pid:
        ctx.dropped((*base, "pid"), f"pid {service.pid!r} has no Kubernetes equivalent")
    if service.ipc == "host":
        pod.host_ipc = True
        ctx.mapped((*base, "ipc"), "hostIPC")
    elif service.ipc and service.ipc not in ("private", "shareable"):
        ctx.dropped((*base, "ipc"), f"ipc {service.ipc!r} has no Kubernetes equivalent")
    mode = service.network_mode
    if mode == "host":
        pod.host_network = True
        pod.dns_policy = "ClusterFirstWithHostNet"
        ctx.mapped((*base, "network_mode"), "hostNetwork")
    elif mode and mode.startswith("service:"):
        ctx.mapped((*base, "network_mode"), "a container in the pod of " + mode[8:])
    elif mode and mode not in ("bridge", "default"):
        ctx.dropped((*base, "network_mode"), f"network_mode {mode!r} has no Kubernetes equivalent")
    if service.init:
        # The pod's pause container becomes PID 1 and reaps zombies, which is what `init`
        # (docker-init/tini) is for.
        pod.share_process_namespace = True
        ctx.approximated((*base, "init"), "shareProcessNamespace",
                         "the pause container reaps zombies as docker-init would")


# deploy.placement.constraints: "node.labels.disk==ssd", "node.hostname!=web1" (Swarm syntax).
_CONSTRAINT = re.compile(r"\s*([\w.\-/]+)\s*(==|!=)\s*(\S+)\s*")
_NODE_FIELDS = {
    "node.hostname": "kubernetes.io/hostname",
    "node.platform.os": "kubernetes.io/os",
    "node.platform.arch": "kubernetes.io/arch",
}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def _placement(ctx: ConvertContext, service: Service, pod: PodSpec, base: KeyPath) -> None:
    deploy = service.deploy
    if deploy is None:
        return
    not_in: list[Obj] = []
    for index, constraint in enumerate(deploy.placement_constraints):
        path: KeyPath = (*base, "deploy", "placement", "constraints", index)
        match = _CONSTRAINT.fullmatch(constraint)
        key = None
        if match:
            field_name, op, value = match.groups()
            if field_name.startswith("node.labels."):
                key = field_name[len("node.labels."):]
            elif field_name in _NODE_FIELDS:
                key = _NODE_FIELDS[field_name]
                value = _ARCH.get(value, value) if field_name == "node.platform.arch" else value
        if match is None or key is None:
            ctx.dropped(path, f"placement constraint {constraint!r} has no Kubernetes node "
                        "label to match", hint="use node.labels.<label>==<value>")
            continue
        if op == "==":
            pod.node_selector[key] = value
            ctx.mapped(path, "nodeSelector")
        else:
            not_in.append({"key": key, "operator": "NotIn", "values": [value]})
            ctx.mapped(path, "nodeAffinity NotIn")
    if not_in:
        pod.affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": not_in}]}}}
    for index, _pref in enumerate(deploy.placement_preferences):
        ctx.dropped((*base, "deploy", "placement", "preferences", index),
                    "placement preferences are not mapped",
                    hint="add topologySpreadConstraints in a --templates override")
