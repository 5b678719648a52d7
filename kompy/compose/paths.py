"""Relative paths made absolute per file, and file contents read only from inside the project.

A path in a Compose file is relative to the project directory for files given with ``-f``
(Compose Specification: "all paths are relative to the base file's folder"), and relative to
their own folder for files reached through ``include`` or ``extends: file``. Resolving each
file's paths before merging keeps that true after the files are merged (compose-go does the
same in ``paths/resolve.go``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from typing import Any

from kompy.errors import ComposeError, KeyPath, SourceLocation
from kompy.model.volumes import is_windows_abs

_URL_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/", "ssh://", "oci://")


# "git@host:repo", "oci://...", "remote:name": a scheme of two or more characters, so that a
# Windows drive letter ("C:\\") is not mistaken for one.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def is_remote(path: str) -> bool:
    """A reference Compose would fetch from the network (git, OCI, HTTP), not a local path."""
    return path.startswith(_URL_PREFIXES) or "://" in path or bool(_SCHEME.match(path))


def absolute(path: str, base: str) -> str:
    if path.startswith("~"):
        path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base, path))


def _context(value: Any, base: str) -> Any:
    if isinstance(value, str) and not is_remote(value):
        return absolute(value, base)
    return value


def _short_volume(spec: str, base: str) -> str:
    """``./data:/data:ro`` -> ``/abs/data:/data:ro``; named volumes stay as they are."""
    source, sep, rest = spec.partition(":")
    if sep and (source.startswith(".") or source.startswith("~")):
        return absolute(source, base) + ":" + rest
    return spec


def _volume(item: Any, base: str) -> Any:
    if isinstance(item, str):
        return _short_volume(item, base)
    if isinstance(item, dict) and item.get("type") == "bind" \
            and isinstance(item.get("source"), str) and not is_windows_abs(item["source"]):
        return {**item, "source": absolute(item["source"], base)}
    return item


def _file_list(value: Any, base: str) -> Any:
    """env_file / label_file: a string, a list of strings, or long-form items with ``path``."""
    if isinstance(value, str):
        return absolute(value, base)
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                out.append(absolute(item, base))
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                out.append({**item, "path": absolute(item["path"], base)})
            else:
                out.append(item)
        return out
    return value


def _service(service: Any, base: str) -> Any:
    if not isinstance(service, dict):
        return service
    out = dict(service)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = _context(build, base)
    elif isinstance(build, dict):
        build = dict(build)
        if "context" in build:
            build["context"] = _context(build["context"], base)
        contexts = build.get("additional_contexts")
        if isinstance(contexts, dict):
            build["additional_contexts"] = {k: _context(v, base) for k, v in contexts.items()}
        out["build"] = build
    for key in ("env_file", "label_file"):
        if key in out:
            out[key] = _file_list(out[key], base)
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [_volume(v, base) for v in out["volumes"]]
    extends = out.get("extends")
    if isinstance(extends, dict) and isinstance(extends.get("file"), str) \
            and not is_remote(extends["file"]):
        out["extends"] = {**extends, "file": absolute(extends["file"], base)}
    develop = out.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        watch = [
            {**rule, "path": absolute(rule["path"], base)}
            if isinstance(rule, dict) and isinstance(rule.get("path"), str) else rule
            for rule in develop["watch"]
        ]
        out["develop"] = {**develop, "watch": watch}
    return out


def resolve_paths(data: dict[str, Any], base: str) -> dict[str, Any]:
    """A copy of one file's data with its relative paths made absolute against ``base``."""
    out = dict(data)
    services = out.get("services")
    if isinstance(services, dict):
        out["services"] = {name: _service(s, base) for name, s in services.items()}
    for kind in ("secrets", "configs"):
        items = out.get(kind)
        if isinstance(items, dict):
            out[kind] = {
                name: {**item, "file": absolute(item["file"], base)}
                if isinstance(item, dict) and isinstance(item.get("file"), str) else item
                for name, item in items.items()
            }
    return out


def inside(path: str, project_dir: str) -> bool:
    """Whether ``path`` is within ``project_dir`` once symbolic links are resolved."""
    real = os.path.realpath(path)
    root = os.path.realpath(project_dir)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def read_project_file(
    path: str,
    project_dir: str,
    allow_outside: bool,
    key_path: KeyPath,
    locate: Callable[[KeyPath], SourceLocation | None],
) -> bytes:
    """Read a file whose contents kompy embeds (env_file, secret, config).

    Files outside the project directory are refused unless ``--allow-outside-project``: a
    Compose file from elsewhere must not be able to copy ``~/.ssh/id_rsa`` into a Secret.
    """
    if not allow_outside and not inside(path, project_dir):
        raise ComposeError(
            f"refusing to read {path}: it is outside the project directory {project_dir}"
            + (f" (it resolves to {os.path.realpath(path)})"
               if os.path.realpath(path) != os.path.normpath(path) else ""),
            location=locate(key_path),
            key_path=key_path,
            hint="move the file into the project, or pass --allow-outside-project if you "
                 "trust this Compose file",
        )
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
            # A FIFO or device would block or never end (/dev/zero).
            raise ComposeError(f"{path} is not a regular file", location=locate(key_path),
                               key_path=key_path, hint="name a regular file")
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ComposeError(
            f"file {path} not found",
            location=locate(key_path),
            key_path=key_path,
            hint="create it, or fix the path (relative paths start at the file's folder)",
        ) from None
    except IsADirectoryError:
        raise ComposeError(f"{path} is a folder, expected a file", location=locate(key_path),
                           key_path=key_path) from None
    except OSError as e:
        raise ComposeError(f"cannot read {path}: {e.strerror}", location=locate(key_path),
                           key_path=key_path) from None
