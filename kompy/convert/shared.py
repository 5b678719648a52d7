"""Helpers the networking, config and autoscaling builders share: rendering through the
conversion context, project-wide objects emitted once, and the tool annotations that
``--with-kompose-annotation`` adds (deterministic: no timestamps, no absolute paths).
"""

from __future__ import annotations

import os
from typing import Any

from kompy import __version__
from kompy.convert.context import ConvertContext
from kompy.errors import ConvertError, KeyPath

# Kompose writes ``kompose.cmd`` (its command line) and ``kompose.version`` on every object;
# kompy writes the same facts under its own prefix. Both values depend only on the input:
# the Compose file names (relative to the project folder) and kompy's version.
ANNOTATION_CMD = "kompy.dev/cmd"
ANNOTATION_VERSION = "kompy.dev/version"

def render(ctx: ConvertContext, template: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    """Render one of the templates (user overrides first) into objects, through the context
    (which adds ``project`` and remembers each object's template for error messages)."""
    return ctx.render(template, **context)


def claim(ctx: ConvertContext, obj: str, owner: str, path: KeyPath = ()) -> bool:
    """Claim the object name ``obj`` ("ConfigMap/web") for ``owner`` ("config settings").

    True the first time (emit the object), False when the same owner claimed it before
    (shared objects are emitted once); a ConvertError when another owner already has the
    name, as two different objects with one name would silently replace each other.
    """
    owners = ctx.object_owners
    current = owners.get(obj)
    if current is None:
        owners[obj] = owner
        return True
    if current == owner:
        return False
    raise ConvertError(f"{current} and {owner} would both be {obj}",
                       location=ctx.locate(path) if path else None, key_path=path,
                       hint="rename one of them")


def tool_annotations(ctx: ConvertContext) -> dict[str, str]:
    """``kompy.dev/cmd`` and ``kompy.dev/version`` when ``--with-kompose-annotation`` is on."""
    if not ctx.options.with_kompose_annotation:
        return {}
    files = [_relative(path, ctx.project.working_dir) for path in ctx.project.compose_files]
    cmd = "kompy convert" + "".join(f" -f {name}" for name in files)
    return {ANNOTATION_CMD: cmd, ANNOTATION_VERSION: __version__}


def _relative(path: str, base: str) -> str:
    """A Compose file's name relative to the project folder (absolute paths are not stable)."""
    if not os.path.isabs(path):
        return path
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return os.path.basename(path)
    return rel if not rel.startswith("..") else os.path.basename(path)
