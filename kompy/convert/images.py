"""Where a service's image comes from and where it can run: ``build:`` and ``platform``.

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

from kompy.convert.context import ConvertContext
from kompy.convert.specs import Obj, PodSpec
from kompy.errors import KeyPath
from kompy.model import Service

# Docker's names (uname -m) for Kubernetes' GOARCH values.
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


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
    import os

    assert service.build is not None
    context = service.build.context
    if os.path.isabs(context):
        rel = os.path.relpath(context, ctx.project.working_dir)
        return "." if rel == "." else (rel if rel.startswith("..") else f"./{rel}")
    return context


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
