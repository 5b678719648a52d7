"""``kompy build``: the project's images, tagged by content, optionally pushed, and nothing
else (no cluster): ``skaffold build`` for a Compose project.

Each service with ``build:`` gets ``[default repo/]<name>:<content tag>`` (dev/images.py):
a service whose inputs did not change is neither built nor pushed again. The last lines
are the images, one per service, as ``docker compose build`` lists them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from kompy.engine.images import BuildSpec
from kompy.errors import EXIT_OK, UserError


@dataclass(frozen=True)
class BuildRequest:
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    push: bool = False
    default_repo: str | None = None
    environ: Mapping[str, str] | None = None


def builder(say: Callable[[str], None]) -> Callable[[BuildSpec], str]:
    """Build one image through the engine, saying when it starts and ends."""
    from kompy.engine.images import build_image

    def build(spec: BuildSpec) -> str:
        start = time.monotonic()
        say(f"building {spec.service} ({spec.image})")
        image_id = build_image(spec)
        say(f"built {spec.service} in {time.monotonic() - start:.1f} s")
        return image_id
    return build


def run_build(request: BuildRequest, out: TextIO, err: TextIO) -> int:
    from kompy.dev.builder import plan_builds
    from kompy.dev.images import ImageTarget, prepare
    from kompy.dev.up import UpRequest, convert_options, load, namespace_of

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    project, diagnostics = load(UpRequest(
        files=request.files, project_directory=request.project_directory,
        project_name=request.project_name, env_files=request.env_files,
        profiles=request.profiles, services=request.services, environ=request.environ))
    unknown = sorted(set(request.services) - set(project.services))
    if unknown:
        raise UserError(f"no such service: {', '.join(unknown)}",
                        hint=f"the project has: {', '.join(sorted(project.services))}")
    plan = plan_builds(project, convert_options(namespace_of(project.name)), request.services)
    for diagnostic in [*diagnostics, *plan.diagnostics]:
        err.write(f"warning: {diagnostic.format()}\n")
    if not plan.specs:
        say("nothing to build: no service has `build:`")
        return EXIT_OK
    target = ImageTarget(default_repo=request.default_repo, push=request.push)
    images = prepare(plan.specs, target, builder(say), say, push_out=err,
                     terminal=_isatty(err))
    for image in images:
        say(f"{image.service}: {image.ref}")
    return EXIT_OK


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
