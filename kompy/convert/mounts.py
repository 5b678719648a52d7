"""What a container's volumes become, as they are planned: the pod's volumes, the container's
mounts, and the claims and objects behind them. kompy.convert.volumes plans named volumes,
tmpfs and volumes_from, kompy.convert.bindmounts bind mounts, both with these pieces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext
from kompy.convert.seeding import Seed
from kompy.convert.settings import VolumeSettings
from kompy.convert.specs import ClaimSpec
from kompy.model import ServiceVolume

if TYPE_CHECKING:
    from kompy.client.objects import Obj


@dataclass
class VolumePlan:
    volumes: list[Obj] = field(default_factory=list)  # pod volumes
    mounts: list[Obj] = field(default_factory=list)  # this container's mounts
    claims: list[ClaimSpec] = field(default_factory=list)  # PVC objects to create
    claim_templates: list[ClaimSpec] = field(default_factory=list)  # StatefulSet only
    objects: list[Obj] = field(default_factory=list)  # ConfigMaps of bind-mounted files
    # Mounts of new volumes that Docker fills from the image (kompy.convert.seeding).
    seeds: list[Seed] = field(default_factory=list)


def add_mount(plan: VolumePlan, name: str, source: Obj | None, volume: ServiceVolume,
              settings: VolumeSettings) -> None:
    """Mount ``volume`` from the pod volume ``name`` (declared with ``source`` unless None:
    a StatefulSet's claim template)."""
    if source is not None:
        plan.volumes.append({"name": name, **source})
    mount: Obj = {"name": name, "mountPath": volume.target}
    if volume.read_only:
        mount["readOnly"] = True
    subpath = volume.volume_subpath or settings.subpath
    if subpath:
        mount["subPath"] = subpath
    plan.mounts.append(mount)


def claim_spec(ctx: ConvertContext, name: str, settings: VolumeSettings) -> ClaimSpec:
    """The PersistentVolumeClaim ``name`` for a volume with ``settings``."""
    labels = {**ctx.project_labels(), "app.kubernetes.io/component": "storage"}
    selector = None
    if settings.selector:
        if "=" in settings.selector:
            pairs = (item.partition("=") for item in settings.selector.split(","))
            selector = {"matchLabels": {k.strip(): v.strip() for k, _, v in pairs}}
        else:
            # Kompose's kompose.volume.selector: a bare value matched as io.kompose.service.
            selector = {"matchLabels": {"io.kompose.service": settings.selector}}
    return ClaimSpec(
        name=name,
        labels=labels,
        access_modes=[settings.access_mode or "ReadWriteOnce"],
        storage=settings.size or ctx.options.pvc_request_size,
        storage_class=settings.storage_class,
        selector=selector,
    )
