"""Builds (and pushes) the images of a project's services that have ``build:``, under the
names convert uses: ``kompy convert --build local [--push-image]``, ``kompy up``, ``kompy dev``.

The image name comes from the converter (:func:`kompy.convert.images.local_image`), so the
image the engine builds is exactly the one the pods ask for: the service's ``image:`` when it
has one (Compose tags the build result with it), else ``<project>-<service>:<tag>``.
``build.args``, ``build.target`` and one of ``build.platforms`` are honoured (Docker's classic
builder builds one platform: the first listed, with a warning when there are more).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kompy.convert.context import ConvertContext
from kompy.convert.images import local_image
from kompy.convert.options import ConvertOptions
from kompy.engine.images import BuildSpec, split_ref
from kompy.errors import Diagnostic
from kompy.model import Project, Service


@dataclass(frozen=True)
class BuildPlan:
    specs: tuple[BuildSpec, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


def plan_builds(project: Project, options: ConvertOptions,
                services: Sequence[str] = ()) -> BuildPlan:
    """One build per service with ``build:`` (of ``services`` when given), in name order."""
    ctx = ConvertContext(project, options)
    specs: list[BuildSpec] = []
    diagnostics: list[Diagnostic] = []
    for name in sorted(project.services):
        service = project.services[name]
        if service.build is None or (services and name not in services):
            continue
        diagnostics.extend(_unsupported(project, service))
        specs.append(_spec(service, local_image(ctx, service)))
    return BuildPlan(tuple(specs), tuple(diagnostics))


def _spec(service: Service, image: str) -> BuildSpec:
    build = service.build
    assert build is not None
    return BuildSpec(
        service=service.name,
        image=image,
        context=build.context,
        dockerfile=build.dockerfile,
        dockerfile_inline=build.dockerfile_inline,
        # An arg without a value (`args: [NAME]`) that the environment did not provide is
        # left to the Dockerfile's default, as Compose does.
        args={k: v for k, v in build.args.items() if v is not None},
        target=build.target,
        labels=dict(build.labels),
        cache_from=build.cache_from,
        network=build.network,
        platform=build.platforms[0] if build.platforms else None,
    )


def _unsupported(project: Project, service: Service) -> list[Diagnostic]:
    build = service.build
    assert build is not None
    out = []
    base = ("services", service.name, "build")
    if len(build.platforms) > 1:
        out.append(Diagnostic(
            f"build.platforms: Docker's classic builder builds one platform; "
            f"{build.platforms[0]} is built, not {', '.join(build.platforms[1:])}",
            location=project.locate((*base, "platforms")), key_path=(*base, "platforms"),
            hint="build the others with `docker buildx build --platform ...` and push them"))
    for key, present in (("additional_contexts", bool(build.additional_contexts)),
                         *((k, True) for k in sorted(build.extra))):
        if present:
            out.append(Diagnostic(
                f"build.{key} is not supported by kompy's builder (Docker's classic builder); "
                "ignored",
                location=project.locate((*base, key)), key_path=(*base, key)))
    return out


def build_images(plan: BuildPlan, progress: Callable[[str], None]) -> dict[str, str]:
    """Build each image in turn; image name -> id. The first failure stops the build with
    its error."""
    from kompy.engine.images import build_image

    built: dict[str, str] = {}
    for spec in plan.specs:
        start = time.monotonic()
        progress(f"building {spec.service} ({spec.image})")
        built[spec.image] = build_image(spec)
        progress(f"built {spec.service} in {time.monotonic() - start:.1f} s")
    return built


def pushed_name(image: str, registry: str | None) -> str:
    """Where ``image`` is pushed: itself, or with ``--push-image-registry`` its repository
    path under that registry (Kompose's rule: the registry replaces the image's own):
    ``shop/web:1`` with ``registry.example.com:5000`` -> ``registry.example.com:5000/shop/web:1``.
    """
    if not registry:
        return image
    repository, tag = split_ref(image)
    first, _, rest = repository.partition("/")
    # A first part with "." or ":" (or "localhost") is a registry host (Docker's rule).
    path = rest if rest and ("." in first or ":" in first or first == "localhost") else repository
    suffix = image[len(repository):] if tag is None or image.endswith(f":{tag}") else f":{tag}"
    return f"{registry.rstrip('/')}/{path}{suffix}"


def push_images(images: Sequence[str], registry: str | None,
                progress: Callable[[str], None]) -> dict[str, str]:
    """Push each local image (tagged for ``registry`` first when given); local name -> the
    name pushed. The first failure stops with its error (nothing half-converted is written)."""
    from kompy.engine.images import tag_image
    from kompy.engine.registry import push_image

    out: dict[str, str] = {}
    for image in images:
        target = pushed_name(image, registry)
        if target != image:
            tag_image(image, target)
        start = time.monotonic()
        progress(f"pushing {target}")
        push_image(target)
        progress(f"pushed {target} in {time.monotonic() - start:.1f} s")
        out[image] = target
    return out
