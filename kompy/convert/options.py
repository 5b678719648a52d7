"""What a user can ask of ``kompy convert``: one frozen value built by the CLI (or a test)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kompy.engine.imageinfo import ImageInfo

CONTROLLERS = ("deployment", "statefulset", "daemonset", "auto")
VOLUME_MODES = ("persistentVolumeClaim", "emptyDir", "hostPath", "configMap")
# Pod Security Standards levels; "default" is what `docker compose up` does.
SECURITY_MODES = ("default", "baseline", "restricted")
SERVICE_TYPES = ("clusterip", "nodeport", "loadbalancer", "headless")
SERVICE_GROUP_MODES = ("label", "volume")
FORMATS = ("yaml", "json")

# The helper image of kompy's init containers: `sh` and `nc` for the depends_on waits, and a
# statically linked /bin/busybox that the volume seeds run inside the service's own image
# (kompy.convert.seeding). busybox's musl variant is static; its default (glibc) one is not.
DEFAULT_WAIT_IMAGE = "busybox:1.36-musl"


def default_cache_dir() -> str:
    """$KOMPY_CACHE_DIR, else $XDG_CACHE_HOME/kompy, else ~/.cache/kompy."""
    import os

    explicit = os.environ.get("KOMPY_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kompy")


@dataclass(frozen=True)
class ConvertOptions:
    """Options of a conversion; field names follow Kompose's flags where one exists.

    ``kube_version`` None means the newest supported (resolved in validate.py).
    """

    controller: str | None = None
    # What bind mounts become; None: by their source (kompy.convert.bindmounts).
    volumes: str | None = None
    pvc_request_size: str = "100Mi"
    namespace: str | None = None
    replicas: int | None = None
    service_type: str | None = None
    network_policies: bool = False
    service_group_mode: str | None = None
    service_group_name: str | None = None
    secrets_as_files: bool = False
    with_kompose_annotation: bool = True
    security: str = "default"
    wait_init: bool = True
    wait_image: str = DEFAULT_WAIT_IMAGE
    # Fill new volumes from the image as Docker does (kompy.convert.seeding).
    volume_init: bool = True
    kube_version: str | None = None
    templates_dir: str | None = None
    strict: bool = False
    # Image names for services that only have `build:`: "<registry>/<project>-<service>:<tag>".
    image_registry: str | None = None
    image_tag: str = "latest"
    validate: bool = True
    # Bind mounts read into ConfigMaps (--volumes configMap) must stay inside the project
    # directory unless this is set (--allow-outside-project).
    allow_outside_project: bool = False
    # Folder for compiled schema validators, reused across runs (the CLI: ~/.cache/kompy).
    cache_dir: str | None = None
    # With ``namespace``: emit the Namespace object first (Kompose does), so
    # `kubectl apply -f DIR` works on a cluster without it (--no-create-namespace: not).
    create_namespace: bool = True
    # What local images say about themselves (EXPOSE, USER), by image reference: an input
    # like the Compose files (the CLI inspects the engine; empty: no image is known).
    images: Mapping[str, ImageInfo] = field(default_factory=dict)
    # Images this run built into the local engine (--build local), and the images the target
    # cluster can pull: local name -> the name it pulls them by, which the pods run (pushed
    # by --push-image [--push-image-registry]; the same name for kompy's own cluster, which
    # runs on the local engine: kompy up and kompy dev).
    built_images: frozenset[str] = frozenset()
    cluster_images: Mapping[str, str] = field(default_factory=dict)
