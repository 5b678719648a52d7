"""Converts a loaded Compose project into validated Kubernetes objects, rendered from
templates: :func:`convert` (kompy.convert.pipeline) is the entry point, and ``kompy
convert`` as a whole (load, build, convert, write) is kompy.convert.command."""

from __future__ import annotations

from kompy.convert.conversion import Conversion
from kompy.convert.pipeline import convert

__all__ = ["Conversion", "convert"]
