"""The project's image builds, as ``kompy up`` and ``kompy dev`` run them: the plan lives with
the converter (kompy.convert.builds), which builds for ``kompy convert --build local`` too, so
every command builds the same images under the same names; here is how a build shows its
progress to the person waiting for it.
"""

from __future__ import annotations

import re
import time

from kompy.convert.builds import BuildPlan, plan_builds
from kompy.dev.console import Console

__all__ = ["BuildPlan", "BuildProgress", "build_images", "plan_builds"]


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
