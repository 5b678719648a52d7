"""Builds the images of a project's services that have ``build:``, under the names convert uses.

The image name comes from the converter (:func:`kompy.convert.container.image_of`), so the
image the engine builds is exactly the one the pods ask for: the service's ``image:`` when it
has one (Compose tags the build result with it), else ``<project>-<service>:<tag>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kompy.convert.options import ConvertOptions
from kompy.engine.images import BuildSpec
from kompy.errors import Diagnostic
from kompy.model import Project, Service


@dataclass(frozen=True)
class BuildPlan:
    specs: tuple[BuildSpec, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


def plan_builds(project: Project, options: ConvertOptions,
                services: Sequence[str] = ()) -> BuildPlan:
    """One build per service with ``build:`` (of ``services`` when given), in name order."""
    from kompy.convert.container import image_of
    from kompy.convert.context import ConvertContext

    ctx = ConvertContext(project, options)
    specs: list[BuildSpec] = []
    diagnostics: list[Diagnostic] = []
    for name in sorted(project.services):
        service = project.services[name]
        if service.build is None or (services and name not in services):
            continue
        diagnostics.extend(_unsupported(project, service))
        specs.append(_spec(service, image_of(ctx, service)))
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
    )


def _unsupported(project: Project, service: Service) -> list[Diagnostic]:
    build = service.build
    assert build is not None
    out = []
    base = ("services", service.name, "build")
    for key, present in (("platforms", bool(build.platforms)),
                         ("additional_contexts", bool(build.additional_contexts)),
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
