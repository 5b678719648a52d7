"""``kompy check``: a Compose project must convert, and its committed manifests must be current.

``config`` reads ``[tool.kompy]`` / ``.kompy.toml``; ``tree`` compares and fixes a manifests
folder; ``runner`` ties loading, conversion and comparison together for the CLI and the
pre-commit hooks (``.pre-commit-hooks.yaml``).
"""

from kompy.check.runner import CheckRequest, run_check

__all__ = ["CheckRequest", "run_check"]
