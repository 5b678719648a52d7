"""Which services share a pod: ``network_mode: service:x`` joins x's pod, and service groups
run several Compose services as containers of one pod.

Kompose's ``--service-group-mode`` (https://kompose.io/user-guide/): ``label`` groups the
services that carry the same ``kompose.service.group`` label (or ``x-kompy.group``), the
group's name being that value; ``volume`` groups services that share a named volume or a
bind-mounted host path (they must run on the same node to share a ReadWriteOnce claim), the
group's name being ``--service-group-name`` (numbered "-1", "-2"... when there are several
groups) or the members' names joined with "-". Without a mode, no service
is grouped (the label alone does nothing, as in Kompose).

:func:`plan_units` gives the pipeline one pod (one workload) per group; every member keeps
its own Service (so ``web:80`` still resolves) whose selector picks the group's pod
(``ctx.selector``).
"""

from __future__ import annotations

from collections.abc import Iterable

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.pod import PodUnit
from kompy.model import Service


def service_groups(ctx: ConvertContext) -> dict[str, str]:
    """Compose service name -> the Kubernetes name of its group, for grouped services only."""
    if ctx.service_groups is None:
        mode = (ctx.options.service_group_mode or "").lower()
        if mode == "label":
            ctx.service_groups = _by_label(ctx)
        elif mode == "volume":
            ctx.service_groups = _by_volume(ctx)
        else:
            ctx.service_groups = {}
    return ctx.service_groups


def _by_label(ctx: ConvertContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ctx.project.services:
        group = ctx.settings(name).group
        if group:
            out[name] = k8s_name(group)
    return out


def _by_volume(ctx: ConvertContext) -> dict[str, str]:
    """Union of services sharing a named volume; singletons stay ungrouped."""
    sharing = _Partition(ctx.project.services)
    owner: dict[tuple[str, str], str] = {}
    for name, service in ctx.project.services.items():
        for volume in service.volumes:
            # A named volume, or a host path bind-mounted by several services (Kompose groups
            # services whose volumes coincide, bind mounts included).
            if volume.type not in ("volume", "bind") or not volume.source:
                continue
            key = (volume.type, volume.source)
            if key in owner:
                sharing.join(name, owner[key])
            else:
                owner[key] = name
    members: dict[str, list[str]] = {}
    for name in ctx.project.services:
        members.setdefault(sharing.find(name), []).append(name)
    out: dict[str, str] = {}
    groups = [group for group in members.values() if len(group) > 1]
    wanted = ctx.options.service_group_name
    for index, group in enumerate(groups, start=1):
        if wanted:
            # One group takes the name as given; several are numbered in project order.
            group_name = k8s_name(wanted if len(groups) == 1 else f"{wanted}-{index}")
        else:
            group_name = k8s_name("-".join(group))
        for name in group:
            out[name] = group_name
    return out


def plan_units(ctx: ConvertContext) -> list[PodUnit]:
    """Which services share a pod: `network_mode: service:x` joins x's pod; services with the
    same kompose.service.group (or, with --service-group-mode volume, sharing a named volume)
    form one pod. A service that runs outside the cluster (x-kompy.service.external_name)
    has no pod."""
    services = {name: service for name, service in ctx.project.services.items()
                if ctx.settings(service).external_name is None}
    pods = _Partition(services)
    for name in sorted(services):
        mode = services[name].network_mode or ""
        if mode.startswith("service:"):
            target = mode[len("service:"):]
            if target in services:
                pods.join(name, target)
    groups = service_groups(ctx)
    first: dict[str, str] = {}
    for name in sorted(services):
        if name in groups:
            pods.join(name, first.setdefault(groups[name], name))
    members: dict[str, list[str]] = {}
    for name in sorted(services):
        members.setdefault(pods.find(name), []).append(name)
    units = [_unit(ctx, root, names, groups) for root, names in members.items()]
    for unit in units:
        for service in unit.services:
            ctx.pod_of[service.name] = unit.name
    return sorted(units, key=lambda u: u.name)


def _unit(ctx: ConvertContext, root: str, names: list[str], groups: dict[str, str]) -> PodUnit:
    services = ctx.project.services  # (external services are never in ``names``)
    ordered: list[Service] = [services[root]] + [services[n] for n in names if n != root]
    if len(names) == 1:
        return PodUnit(ctx.name(root), ordered)
    grouped = [groups[n] for n in names if n in groups]
    # A service group names its pod; `network_mode: service:x` joins x's pod (x's name).
    name = grouped[0] if grouped else ctx.name(root)
    return PodUnit(name, ordered)


class _Partition:
    """Services in disjoint sets (union-find, with path halving)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.parent = {name: name for name in names}

    def find(self, name: str) -> str:
        """The root of ``name``'s set."""
        parent = self.parent
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def join(self, child: str, root: str) -> None:
        """Merge ``child``'s set into ``root``'s (whose root stays the root)."""
        a, b = self.find(child), self.find(root)
        if a != b:
            self.parent[a] = b
