"""Applies ``include``: other Compose projects whose resources join the including file.

Compose Specification "include": each entry (a path, a list of paths, or the long form with
``path``, ``project_directory`` and ``env_file``) is loaded as its own project, with its own
folder for relative paths and its own ``.env`` (the including project's variables win), and its
services, networks, volumes, secrets and configs are added to the including file. A resource
defined differently on both sides is an error. A file that includes itself, directly or
through others, is an error naming the chain. Remote includes (git URLs, ``oci://``) need the
network, which kompy does not use to load a project: they fail with one clear line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kompy.compose.locator import ProjectLocator
from kompy.compose.paths import absolute, is_remote
from kompy.errors import ComposeError, KeyPath, SourceLocation

RESOURCES = ("services", "networks", "volumes", "secrets", "configs")
# Includes nest by recursion; real projects nest a few levels.
MAX_INCLUDE_DEPTH = 32


@dataclass(frozen=True)
class IncludeSpec:
    paths: tuple[str, ...]  # absolute
    project_directory: str
    env_files: tuple[str, ...]  # absolute; empty: <project_directory>/.env when it exists
    at: KeyPath
    # Found while the entry's own file is the newest in the locator; later files may have
    # an include entry at the same key path.
    location: SourceLocation | None = None


# (spec, environment of the including project, chain of files) -> (data, locator)
ProjectAssembler = Callable[
    [IncludeSpec, Mapping[str, str], tuple[str, ...]], tuple[dict[str, Any], ProjectLocator]
]


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def parse_includes(raw: Any, base: str, locator: ProjectLocator) -> list[IncludeSpec]:
    """The ``include`` entries of one file, with paths made absolute against ``base``."""
    if not isinstance(raw, list):
        raise ComposeError("include must be a list", location=locator.locate(("include",)),
                           key_path=("include",), hint="for example  include: [other.yaml]")
    specs: list[IncludeSpec] = []
    for i, entry in enumerate(raw):
        at: KeyPath = ("include", i)
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict):
            raise ComposeError("an include entry must be a path or a mapping with 'path'",
                               location=locator.locate(at), key_path=at)
        paths = _strings(entry.get("path"))
        if not paths:
            raise ComposeError("include entry needs 'path' (a string or a list of strings)",
                               location=locator.locate(at), key_path=at)
        for path in paths:
            if is_remote(path) or path.startswith("oci:"):
                raise ComposeError(
                    f"remote include {path!r} is not supported: kompy loads projects offline",
                    location=locator.locate(at), key_path=(*at, "path"),
                    hint="clone or download the project and include its local path",
                )
        files = tuple(absolute(p, base) for p in paths)
        project_dir = entry.get("project_directory")
        directory = absolute(project_dir, base) if isinstance(project_dir, str) \
            else os.path.dirname(files[0])
        env_files = _strings(entry.get("env_file")) or []
        specs.append(IncludeSpec(files, directory, tuple(absolute(e, base) for e in env_files),
                                 at, locator.locate(at)))
    return specs


def apply_includes(
    data: dict[str, Any],
    specs: list[tuple[IncludeSpec, tuple[str, ...]]],
    locator: ProjectLocator,
    env: Mapping[str, str],
    assemble: ProjectAssembler,
) -> dict[str, Any]:
    """``data`` (the merged files) with every included project's resources added.

    ``specs`` pairs each include entry with the chain of files that led to it. Includes are
    applied after the project's own files are merged (Compose Specification "include"), so a
    resource defined both by an include and by any of the files is a conflict.
    """
    out = dict(data)
    for spec, chain in specs:
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise ComposeError(
                f"includes nested deeper than {MAX_INCLUDE_DEPTH} files",
                location=spec.location, key_path=spec.at,
                hint="flatten the include chain",
            )
        for path in spec.paths:
            if path in chain:
                shown = " -> ".join(os.path.basename(p) for p in (*chain[chain.index(path):],
                                                                   path))
                raise ComposeError(
                    f"include cycle: {shown}",
                    location=spec.location, key_path=spec.at,
                    hint="a file cannot include itself, directly or through other files",
                )
            if not os.path.isfile(path):
                raise ComposeError(f"included file {path} not found",
                                   location=spec.location, key_path=spec.at,
                                   hint="include paths are relative to the including file")
        included, sub_locator = assemble(spec, env, chain)
        for kind in RESOURCES:
            items = included.get(kind)
            if not isinstance(items, dict) or not items:
                continue
            target = dict(out.get(kind) or {})
            for name, value in items.items():
                if name in target and target[name] != value:
                    raise ComposeError(
                        f"{kind[:-1]} {name!r} is defined both by this project and by "
                        f"included {os.path.basename(spec.paths[0])}",
                        location=locator.locate((kind, name)), key_path=(kind, name),
                        hint="rename one of them; to change an included service, list an "
                             "override file in the include's path",
                    )
                target[name] = value
                locator.graft((kind, name), sub_locator, (kind, name))
            out[kind] = target
    return out
