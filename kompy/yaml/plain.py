"""Plain YAML without positions: kubeconfig files, kubectl-shaped ``-o yaml`` output, and the
YAML that kompy's templates render.

Compose files go through :mod:`kompy.yaml.reader` (positions, Compose's scalar rules) and
manifests through :mod:`kompy.yaml.writer` (quoting for YAML 1.1 readers); these files are
kompy's own or kubectl's (or its templates' output), read and written as ruamel.yaml's safe
loader and dumper do.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class PlainYamlError(ValueError):
    """The text is not YAML; the message is ruamel.yaml's, with its line and column."""

    def __init__(self, error: YAMLError) -> None:
        super().__init__(str(error))
        mark = getattr(error, "problem_mark", None)
        # The 1-based line of the problem, when ruamel.yaml knows it.
        self.line: int | None = mark.line + 1 if mark is not None else None
        # What is wrong, without the position.
        self.problem: str = getattr(error, "problem", None) or str(error)


def load(text: str) -> Any:
    """The data of one YAML document (safe types only)."""
    try:
        return YAML(typ="safe").load(text)
    except YAMLError as error:
        raise PlainYamlError(error) from error


def load_all(text: str) -> list[Any]:
    """The data of every YAML document of ``text`` (safe types only; a document may be None)."""
    try:
        return list(YAML(typ="safe", pure=False).load_all(text))
    except YAMLError as error:
        raise PlainYamlError(error) from error


def dump(data: Any) -> str:
    """``data`` as block-style YAML (safe types only)."""
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()
