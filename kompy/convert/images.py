"""A service's image: its name on the local engine and in the cluster, its pull policy, where
it comes from (``build:``) and where it can run (``platform``).

The image a service runs is its ``image:``, or for a ``build:``-only service
``<project>-<service>:<tag>`` (Compose's own default name for built images); the builder
(kompy.convert.builds) tags what it builds with this same name.

A service with ``build:`` runs an image that exists only where it was built, unless it is
pushed. ``kompy convert --build local`` builds it on the local engine and ``--push-image``
(``--push-image-registry REG``) pushes it, both before anything is written
(kompy.convert.builds, driven by kompy.convert.command); the conversion receives what was
built and pushed in ``ConvertOptions.built_images`` / ``cluster_images`` (``kompy up`` and
``kompy dev`` build into the engine their cluster runs on, and say so there) and says, per
service, which image must exist where: the report calls ``build`` "mapped" only when the
image is where the cluster pulls it.

``platform: linux/arm64`` and ``build.platforms`` say which platforms the image runs on: the
pods go to nodes of those (``kubernetes.io/os``, ``kubernetes.io/arch``, the well-known node
labels), unless a placement constraint already chose.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.options import ConvertOptions
from kompy.convert.specs import PodSpec
from kompy.errors import ConvertError, KeyPath, KompyError
from kompy.model import Project, Service

if TYPE_CHECKING:
    from kompy.client.objects import Obj

# Docker's names (uname -m) for Kubernetes' GOARCH values.
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def image_of(ctx: ConvertContext, service: Service) -> str:
    """The image the pods run: the local name (:func:`local_image`), or where this run
    pushed it (--push-image)."""
    local = local_image(ctx, service)
    return ctx.options.cluster_images.get(local, local)


def local_image(ctx: ConvertContext, service: Service) -> str:
    """The image's name on the local engine; a `build:`-only service gets
    "<project>-<service>:<tag>" (Compose's own default name for built images), prefixed with
    --image-registry when given."""
    settings = ctx.settings(service)
    if settings.image:
        return settings.image
    if service.image:
        return service.image
    if service.build is None:
        raise ConvertError(
            f"service {service.name} has neither image nor build",
            location=ctx.locate(("services", service.name)),
            key_path=("services", service.name),
            hint="add `image:` (or `build:`) to the service",
        )
    name = f"{k8s_name(ctx.project.name)}-{k8s_name(service.name)}:{ctx.options.image_tag}"
    registry = ctx.options.image_registry
    return f"{registry.rstrip('/')}/{name}" if registry else name


def project_images(project: Project, options: ConvertOptions) -> dict[str, str]:
    """Service name -> the image its pods run (its name on the local engine), for services whose
    settings read; used to look the images up before converting."""
    ctx = ConvertContext(project, options)
    out: dict[str, str] = {}
    for name in sorted(project.services):
        try:
            out[name] = local_image(ctx, project.services[name])
        except KompyError:
            continue  # reported by the conversion itself
    return out


def pull_policy(ctx: ConvertContext, service: Service, base: KeyPath) -> str | None:
    settings = ctx.settings(service)
    if settings.image_pull_policy:
        return settings.image_pull_policy
    # compose-spec pull_policy: always | never | missing | if_not_present | build | daily...
    policy = (service.pull_policy or "").lower()
    if policy == "always":
        return "Always"
    if policy == "never":
        return "Never"
    if policy in ("missing", "if_not_present"):
        return "IfNotPresent"
    if policy:
        ctx.approximated((*base, "pull_policy"), "imagePullPolicy",
                         f"pull_policy {policy} has no Kubernetes equivalent; IfNotPresent used")
        return "IfNotPresent"
    # An image kompy builds exists only where it was built: do not try to pull it.
    return "IfNotPresent" if service.build is not None else None


def report_build(ctx: ConvertContext, service: Service, image: str) -> None:
    """Say what ``build:`` became, and warn when the image must come from elsewhere."""
    if service.build is None:
        return
    path: KeyPath = ("services", service.name, "build")
    pulled = ctx.options.cluster_images.get(image)
    if pulled is not None:
        ctx.mapped(path, f"image {pulled} (built from {_context(ctx, service)}, where the "
                   "cluster pulls it)")
    elif image in ctx.options.built_images:
        ctx.warn(path, f"image {image} was built into the local Docker engine only: a cluster "
                 "on this engine (kompy's own) runs it, any other must pull it from a registry",
                 hint="add --push-image (and --push-image-registry REGISTRY)")
        ctx.approximated(path, f"image {image}", "built locally, not pushed")
    else:
        ctx.warn(path, f"image {image} is built from {_context(ctx, service)}, not by this "
                 "conversion: it must exist where the cluster pulls images (a registry, or "
                 "the nodes' container engine)",
                 hint="build it with --build local, and push it with --push-image "
                      "[--push-image-registry REGISTRY]")
        ctx.approximated(path, f"image {image}", "not built by kompy convert: the image "
                         "must be built and pushed separately")


def _context(ctx: ConvertContext, service: Service) -> str:
    assert service.build is not None
    context = service.build.context
    if os.path.isabs(context):
        rel = os.path.relpath(context, ctx.project.working_dir)
        return "." if rel == "." else (rel if rel.startswith("..") else f"./{rel}")
    return context


NODE_OSES = frozenset({"linux", "windows"})


def platform_placement(ctx: ConvertContext, service: Service, pod: PodSpec) -> None:
    """Node selection from ``platform`` (or ``build.platforms``): the image's platforms."""
    base: KeyPath = ("services", service.name)
    if service.platform:
        path: KeyPath = (*base, "platform")
        platforms = [service.platform]
    elif service.build is not None and service.build.platforms:
        path = (*base, "build", "platforms")
        platforms = list(service.build.platforms)
    else:
        return
    # Nodes label kubernetes.io/os with the kubelet's own OS, linux or windows. A WebAssembly
    # image (wasi/wasm) runs on a linux node whose container runtime has a Wasm shim, chosen
    # by a RuntimeClass: a node selector on os "wasi" would match no node at all.
    foreign = [p for p in platforms if p.split("/")[0] not in NODE_OSES]
    if foreign:
        ctx.warn(path, f"platform {', '.join(foreign)}: no Kubernetes node reports this OS, "
                 "so no node is selected for it; the pods run only on nodes whose container "
                 "runtime can run such images", hint="for WebAssembly, set the RuntimeClass of "
                 "your cluster's Wasm runtime (runtimeClassName) in a --templates override")
        ctx.approximated(path, None, "no node selection for " + ", ".join(foreign))
        platforms = [p for p in platforms if p not in foreign]
        if not platforms:
            return
    oses = sorted({p.split("/")[0] for p in platforms})
    arches = sorted({ARCH.get(p.split("/")[1], p.split("/")[1]) for p in platforms
                     if p.count("/") >= 1})
    terms: list[Obj] = []
    for key, values in (("kubernetes.io/os", oses), ("kubernetes.io/arch", arches)):
        if not values or key in pod.node_selector:
            continue
        if len(values) == 1:
            pod.node_selector[key] = values[0]
        else:
            terms.append({"key": key, "operator": "In", "values": values})
    if terms:
        affinity = pod.affinity or {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": []}]}}}
        required = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        required["nodeSelectorTerms"][0]["matchExpressions"].extend(terms)
        pod.affinity = affinity
    ctx.mapped(path, "nodeSelector/nodeAffinity on kubernetes.io/os and kubernetes.io/arch")
