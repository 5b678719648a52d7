"""Converts a loaded Compose project into validated Kubernetes objects, rendered from templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kompy.errors import Diagnostic

if TYPE_CHECKING:
    from kompy.convert.context import KeyReport
    from kompy.convert.options import ConvertOptions
    from kompy.model import Project


@dataclass
class Conversion:
    """The result of a conversion: objects in a deterministic order, warnings, the key report."""

    objects: list[dict[str, Any]]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    report: list[KeyReport] = field(default_factory=list)
    # The template each object was rendered from, parallel to ``objects`` (for error messages).
    sources: list[str] = field(default_factory=list)


def convert(project: Project, options: ConvertOptions) -> Conversion:
    """Convert ``project``; every object is validated against the Kubernetes schemas."""
    import gc

    from kompy.convert.pipeline import run

    # The objects built here are trees (no reference cycles), so the cyclic collector's
    # passes over a heap growing by thousands of dicts only cost time (~20% at 5,000
    # services); it is paused for the conversion and restored after.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return run(project, options)
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["Conversion", "convert"]
