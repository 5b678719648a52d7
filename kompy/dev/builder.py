"""Builds the images of a project's services that have ``build:``, under the names convert uses.

The image name comes from the converter (:func:`kompy.convert.container.image_of`), so the
image the engine builds is exactly the one the pods ask for: the service's ``image:`` when it
has one (Compose tags the build result with it), else ``<project>-<service>:<tag>``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kompy.convert.options import ConvertOptions
from kompy.dev.console import Console
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


def build_images(plan: BuildPlan, console: Console) -> dict[str, str]:
    """Build each image in turn, showing its progress; image name -> id. The first failure
    stops the build with its error (the last lines of its log in the hint)."""
    from kompy.engine.images import build_image

    built: dict[str, str] = {}
    for spec in plan.specs:
        progress = BuildProgress(console, spec.service)
        start = time.monotonic()
        if not console.terminal:
            console.say(f"building {spec.service} ({spec.image})")
        try:
            built[spec.image] = build_image(spec, progress.line)
        finally:
            console.live(None)
        console.say(f"built {spec.service} in {time.monotonic() - start:.1f} s"
                    f"{progress.summary()}")
    return built


class BuildProgress:
    """One build's log lines as progress: on a terminal a compact live line
    (``building web: step 3/7 RUN pip install ...``), elsewhere each line of the
    classic builder's log, prefixed by the service, without its bookkeeping lines
    (`` ---> 3f2a...``, ``Removing intermediate container``)."""

    def __init__(self, console: Console, service: str) -> None:
        self.console = console
        self.service = service
        self.steps = 0
        self.cached = 0
        self._step = ""

    def line(self, text: str) -> None:
        step = _STEP.match(text)
        if step:
            self.steps += 1
            self._step = f"step {step[1]}/{step[2]} {step[3]}"
        elif text.strip() == "---> Using cache":
            self.cached += 1
        if self.console.terminal:
            detail = "" if step or _NOISE.match(text) else f": {text.strip()}"
            self.console.live(f"building {self.service}: {self._step}{detail}")
        elif not _NOISE.match(text):
            self.console.say(f"  {self.service} | {text.rstrip()}")

    def summary(self) -> str:
        if not self.steps:
            return ""
        cached = f", {self.cached} cached" if self.cached else ""
        return f" ({self.steps} step{'s' * (self.steps != 1)}{cached})"


# "Step 3/7 : RUN pip install -r requirements.txt" (Docker's classic builder).
_STEP = re.compile(r"Step (\d+)/(\d+) : (.*)")
_NOISE = re.compile(r"\s*(---> [0-9a-f]{6,}$|Removing intermediate container|"
                    r"Successfully (built|tagged) )")
