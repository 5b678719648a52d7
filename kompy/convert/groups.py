"""Service groups: several Compose services run as containers of one pod.

Kompose's ``--service-group-mode`` (https://kompose.io/user-guide/): ``label`` groups the
services that carry the same ``kompose.service.group`` label (or ``x-kompy.group``), the
group's name being that value; ``volume`` groups services that share a named volume or a
bind-mounted host path (they must run on the same node to share a ReadWriteOnce claim), the
group's name being ``--service-group-name`` (numbered "-1", "-2"... when there are several
groups) or the members' names joined with "-". Without a mode, no service
is grouped (the label alone does nothing, as in Kompose).

The pipeline (``plan_units``) makes one workload per group; every member keeps its own
Service (so ``web:80`` still resolves) whose selector picks the group's pod
(``ctx.selector``).
"""

from __future__ import annotations

from kompy.convert.context import ConvertContext, k8s_name


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
    parent: dict[str, str] = {name: name for name in ctx.project.services}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    owner: dict[tuple[str, str], str] = {}
    for name, service in ctx.project.services.items():
        for volume in service.volumes:
            # A named volume, or a host path bind-mounted by several services (Kompose groups
            # services whose volumes coincide, bind mounts included).
            if volume.type not in ("volume", "bind") or not volume.source:
                continue
            key = (volume.type, volume.source)
            if key in owner:
                parent[find(name)] = find(owner[key])
            else:
                owner[key] = name
    members: dict[str, list[str]] = {}
    for name in ctx.project.services:
        members.setdefault(find(name), []).append(name)
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
