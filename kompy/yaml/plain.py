"""Plain YAML without positions: kubeconfig files, and kubectl-shaped ``-o yaml`` output.

Compose files go through :mod:`kompy.yaml.reader` (positions, Compose's scalar rules) and
manifests through :mod:`kompy.yaml.writer` (quoting for YAML 1.1 readers); these files are
kompy's own or kubectl's, read and written as ruamel.yaml's safe loader and dumper do.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class PlainYamlError(ValueError):
    """The text is not YAML; the message is ruamel.yaml's, with its line and column."""


def load(text: str) -> Any:
    """The data of one YAML document (safe types only)."""
    try:
        return YAML(typ="safe").load(text)
    except YAMLError as error:
        raise PlainYamlError(str(error)) from error


def dump(data: Any) -> str:
    """``data`` as block-style YAML (safe types only)."""
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()
