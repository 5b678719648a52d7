"""The result of a conversion, as the pipeline returns it and the outputs (files, chart,
report) read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.convert.context import KeyReport
from kompy.errors import Diagnostic


@dataclass
class Conversion:
    """The result of a conversion: objects in a deterministic order, warnings, the key report."""

    objects: list[dict[str, Any]]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    report: list[KeyReport] = field(default_factory=list)
    # The template each object was rendered from, parallel to ``objects`` (for error messages).
    sources: list[str] = field(default_factory=list)
