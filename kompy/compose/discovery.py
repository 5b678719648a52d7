"""Finds a project's Compose files, directory, environment and name, as Docker Compose does.

Sources: the Compose Specification ("Compose file" and "Project name") and the Docker Compose
CLI reference (``COMPOSE_FILE``, ``COMPOSE_PATH_SEPARATOR``, ``COMPOSE_PROJECT_NAME``,
``COMPOSE_PROFILES``, ``--env-file``), with compose-go's ``cli/options.go`` for the details.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kompy.errors import ComposeError, Diagnostic, SourceLocation

# In the order Compose prefers them when several exist in one folder.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yaml", "compose.override.yml",
    "docker-compose.override.yml", "docker-compose.override.yaml",
)

_VALID_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

# ``-f -`` reads the Compose file from standard input; the project directory is then the
# current folder (or --project-directory).
STDIN = "<stdin>"


def normalize_project_name(name: str) -> str:
    """compose-go NormalizeProjectName: lower case, only ``[a-z0-9_-]``, starting alphanumeric."""
    kept = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return kept.lstrip("_-")


def check_project_name(name: str, source: str, location: SourceLocation | None = None) -> str:
    """An explicitly given name must already be normal; Compose refuses it otherwise."""
    if not _VALID_NAME.fullmatch(name):
        suggestion = normalize_project_name(name)
        raise ComposeError(
            f"invalid project name {name!r} (from {source}): it must contain only lowercase "
            "letters, digits, '-' and '_', and start with a letter or digit",
            location=location,
            hint=f"use {suggestion!r}" if suggestion else "choose a name such as 'myapp'",
        )
    return name


@dataclass(frozen=True)
class Discovered:
    files: tuple[str, ...]  # absolute paths, in merge order
    project_dir: str  # absolute


def find_default_files(start: str, diagnostics: list[Diagnostic]) -> list[str]:
    """Look in ``start`` and then each parent folder, as ``docker compose`` does."""
    folder = Path(start)
    while True:
        found = [folder / name for name in DEFAULT_FILES if (folder / name).is_file()]
        if found:
            if len(found) > 1:
                diagnostics.append(Diagnostic(
                    f"found several Compose files in {folder}: "
                    f"{', '.join(p.name for p in found)}; using {found[0].name}",
                    hint="remove the ones you do not use, or choose one with -f",
                ))
            files = [str(found[0])]
            for name in OVERRIDE_FILES:
                if (folder / name).is_file():
                    files.append(str(folder / name))
                    break
            return files
        if folder.parent == folder:
            raise ComposeError(
                f"no Compose file found in {start} or any parent folder",
                hint=f"create {DEFAULT_FILES[0]}, or name the file with -f",
            )
        folder = folder.parent


def compose_file_env(env: Mapping[str, str], cwd: str) -> list[str]:
    """``COMPOSE_FILE`` split on ``COMPOSE_PATH_SEPARATOR`` (default: the OS path separator).

    Without an explicit separator, a part that is not an existing file but contains spaces
    is also split on whitespace: Kompose reads ``COMPOSE_FILE`` as a space-separated list
    (viper's ``GetStringSlice``), so ``COMPOSE_FILE="a.yaml b.yaml"`` works for its users.
    """
    value = env.get("COMPOSE_FILE", "")
    if not value:
        return []
    explicit = env.get("COMPOSE_PATH_SEPARATOR")
    parts = [part for part in value.split(explicit or os.pathsep) if part]
    if not explicit:
        parts = [piece for part in parts for piece in (
            part.split() if " " in part.strip() and not os.path.exists(os.path.join(cwd, part))
            else [part])]
    return [os.path.join(cwd, part) for part in parts]


def discover(
    files: tuple[str, ...],
    project_directory: str | None,
    cwd: str,
    env: Mapping[str, str],
    diagnostics: list[Diagnostic],
) -> Discovered:
    """The files to load and the project directory ("all paths are relative to it")."""
    project_dir = os.path.abspath(os.path.join(cwd, project_directory)) if project_directory \
        else None
    if project_dir is not None and not os.path.isdir(project_dir):
        raise ComposeError(
            f"project directory {project_dir} does not exist",
            hint="check --project-directory",
        )
    paths = [STDIN if f == "-" else os.path.abspath(os.path.join(cwd, f)) for f in files]
    if not paths:
        paths = compose_file_env(env, cwd)
    if not paths:
        paths = find_default_files(project_dir or cwd, diagnostics)
    for path in paths:
        if path == STDIN:
            continue
        if os.path.isdir(path):
            raise ComposeError(f"{path} is a folder, not a Compose file",
                               hint="name the Compose file inside it with -f")
        if not os.path.isfile(path):
            raise ComposeError(f"Compose file {path} not found",
                               hint="check the -f option or COMPOSE_FILE")
    first = cwd if paths[0] == STDIN else os.path.dirname(paths[0])
    return Discovered(tuple(paths), project_dir or first)


def dotenv_folder(files: tuple[str, ...], project_directory: str | None, cwd: str) -> str:
    """Where ``.env`` is read from: the project directory, else the first -f file's folder."""
    if project_directory:
        return os.path.abspath(os.path.join(cwd, project_directory))
    if files and files[0] != "-":
        return os.path.dirname(os.path.abspath(os.path.join(cwd, files[0])))
    return cwd


def project_name(
    explicit: str | None,
    env: Mapping[str, str],
    name_in_files: Callable[[], tuple[str, SourceLocation | None] | None],
    project_dir: str,
) -> str:
    """``-p`` > ``COMPOSE_PROJECT_NAME`` > top-level ``name:`` > the project folder's name."""
    if explicit:
        return check_project_name(explicit, "-p")
    from_env = env.get("COMPOSE_PROJECT_NAME")
    if from_env:
        return check_project_name(from_env, "COMPOSE_PROJECT_NAME")
    from_file = name_in_files()
    if from_file:
        return check_project_name(from_file[0], "the name: key", from_file[1])
    name = normalize_project_name(os.path.basename(os.path.normpath(project_dir)))
    if not name:
        raise ComposeError(
            f"cannot make a project name from the folder name {project_dir!r}",
            hint="set one with -p, COMPOSE_PROJECT_NAME or a top-level name: key",
        )
    return name


def profiles_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    value = env.get("COMPOSE_PROFILES", "")
    return tuple(p.strip() for p in value.split(",") if p.strip())
