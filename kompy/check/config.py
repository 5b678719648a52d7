"""kompy's project configuration: ``[tool.kompy]`` in pyproject.toml or a ``.kompy.toml``.

The configuration names, for each Compose project in a repository, its Compose files, the
folder its manifests are committed in, the conversion options and the templates folder, so
that ``kompy check`` (and the pre-commit hook running it) needs no arguments::

    [tool.kompy]                 # .kompy.toml: the same keys at the top level
    files = ["compose.yaml"]
    manifests = "k8s"
    namespace = "shop"           # any ConvertOptions field, kebab-case

    [[tool.kompy.project]]       # optional: several projects; each inherits the keys above
    files = ["billing/compose.yaml"]
    manifests = "billing/k8s"

Relative paths are relative to the folder of the configuration file. Unknown keys are errors
naming the file and the key, with a did-you-mean hint: a typo must not silently turn an
option off.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kompy.convert.options import (
    CONTROLLERS,
    FORMATS,
    SECURITY_MODES,
    SERVICE_GROUP_MODES,
    SERVICE_TYPES,
    VOLUME_MODES,
    ConvertOptions,
    default_cache_dir,
)
from kompy.errors import SourceLocation, UserError, raise_all

PYPROJECT = "pyproject.toml"
KOMPY_TOML = ".kompy.toml"

# Keys that say where a project is; everything else is a conversion option.
_PATH_LIST_KEYS = ("files", "env-files")
_PATH_KEYS = ("project-directory", "manifests", "templates")
_STRING_LIST_KEYS = ("profiles",)
_STRING_KEYS = ("project-name", "format")
_PROJECT_TABLE = "project"

# ConvertOptions fields a configuration does not set: the templates folder has its own key
# (a path, resolved like the others), and `kompy check` always validates.
# images, built_images, cluster_images: kompy check never reads the Docker engine nor builds
# (its verdict must not depend on which images a machine has).
_NOT_CONFIGURABLE = frozenset({"templates_dir", "validate", "allow_outside_project", "cache_dir",
                               "images", "built_images", "cluster_images"})

_CHOICES: dict[str, tuple[str, ...]] = {
    "controller": CONTROLLERS,
    "volumes": VOLUME_MODES,
    "security": SECURITY_MODES,
    "service_type": SERVICE_TYPES,
    "service_group_mode": SERVICE_GROUP_MODES,
    "format": FORMATS,
}


@dataclass(frozen=True)
class ProjectConfig:
    """One Compose project to check; every path is absolute."""

    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    manifests: str | None = None
    templates: str | None = None
    format: str = "yaml"
    convert: Mapping[str, Any] = field(default_factory=dict)  # ConvertOptions field -> value
    # Where Compose files are discovered when ``files`` is empty: the configuration's folder
    # (None: the current directory).
    directory: str | None = None

    def convert_options(self) -> ConvertOptions:
        # The compiled-validator cache is what keeps a pre-commit run under a second.
        return ConvertOptions(**dict(self.convert), templates_dir=self.templates, validate=True,
                              cache_dir=default_cache_dir())

    def label(self, root: Path, cwd: Path) -> str:
        """A short name for messages: the first Compose file, relative to ``root``."""
        if self.files:
            return _relative(Path(self.files[0]), root)
        folder = self.project_directory or self.directory or str(cwd)
        return f"project in {_relative(Path(folder), root)}"


@dataclass(frozen=True)
class CheckConfig:
    """The configuration found for a directory (possibly none: ``file`` is None)."""

    repo_root: Path
    file: Path | None
    defaults: ProjectConfig  # the top-level keys
    projects: tuple[ProjectConfig, ...]  # [[project]] entries, or (defaults,) when none


def find_repo_root(start: Path) -> Path:
    """The nearest folder holding ``.git`` (a folder, or a file in worktrees), else ``start``."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def find_config_file(cwd: Path, repo_root: Path) -> tuple[Path, dict[str, Any]] | None:
    """The configuration in the current directory, else in its parents up to the repo root.

    In one folder ``.kompy.toml`` wins over ``pyproject.toml``; a pyproject.toml without a
    ``[tool.kompy]`` table is not a configuration.
    """
    folders = [cwd]
    if cwd != repo_root and repo_root in cwd.parents:
        folders += [p for p in cwd.parents if p == repo_root or repo_root in p.parents]
    for folder in folders:
        candidate = folder / KOMPY_TOML
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        candidate = folder / PYPROJECT
        if candidate.is_file():
            data = _read_toml(candidate)
            tool = data.get("tool")
            if isinstance(tool, dict) and "kompy" in tool:
                return candidate, tool["kompy"]
    return None


def load_config(cwd: Path, config_file: Path | None = None) -> CheckConfig:
    """Find and parse the configuration for ``cwd`` (or read ``config_file``)."""
    repo_root = find_repo_root(cwd)
    if config_file is not None:
        found: tuple[Path, dict[str, Any]] | None = (config_file, _table_of(config_file))
    else:
        found = find_config_file(cwd, repo_root)
    if found is None:
        return CheckConfig(repo_root, None, ProjectConfig(), (ProjectConfig(),))
    path, table = found
    return parse_config(table, path, repo_root)


def parse_config(table: Mapping[str, Any], path: Path, repo_root: Path) -> CheckConfig:
    """Turn the ``[tool.kompy]`` table (or a .kompy.toml) read from ``path`` into projects."""
    if not isinstance(table, Mapping):
        raise UserError("[tool.kompy] must be a table", location=_loc(path))
    parser = _Parser(path, repo_root)
    top = {k: v for k, v in table.items() if k != _PROJECT_TABLE}
    defaults = parser.project(top, ProjectConfig(directory=str(path.parent)), prefix="")
    entries = table.get(_PROJECT_TABLE, [])
    projects: list[ProjectConfig] = []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        parser.fail(_PROJECT_TABLE, "must be an array of tables ([[tool.kompy.project]])")
    else:
        for i, entry in enumerate(entries):
            projects.append(parser.project(entry, defaults, prefix=f"{_PROJECT_TABLE}[{i}]."))
    raise_all(parser.errors)
    return CheckConfig(repo_root, path, defaults, tuple(projects) or (defaults,))


class _Parser:
    """Checks and converts one configuration file's keys, collecting every problem."""

    def __init__(self, path: Path, repo_root: Path) -> None:
        self.path = path
        self.base = path.parent
        self.repo_root = repo_root.resolve()
        self.text = _read_text(path)
        self.errors: list[UserError] = []

    def fail(self, key: str, message: str, hint: str | None = None) -> None:
        self.errors.append(
            UserError(f"{key}: {message}", location=self._locate(key), hint=hint)
        )

    def _locate(self, key: str) -> SourceLocation:
        # tomllib keeps no positions; the first line assigning the key is where a user looks.
        leaf = key.rsplit(".", 1)[-1]
        pattern = re.compile(rf"^\s*[\"']?{re.escape(leaf)}[\"']?\s*=", re.MULTILINE)
        table = re.search(r"^\s*\[+\s*tool\.kompy\b", self.text, re.MULTILINE)
        match = pattern.search(self.text, table.start() if table else 0)
        line = self.text.count("\n", 0, match.start()) + 1 if match else 0
        return _loc(self.path, line)

    def project(self, table: Mapping[str, Any], base: ProjectConfig, prefix: str) -> ProjectConfig:
        values: dict[str, Any] = {}
        convert = dict(base.convert)
        option_kinds = convert_option_kinds()
        for key, value in table.items():
            name = prefix + key
            if key in _PATH_LIST_KEYS:
                values[key] = self.path_list(name, value)
            elif key in _PATH_KEYS:
                values[key] = self.one_path(name, value)
            elif key in _STRING_LIST_KEYS:
                values[key] = self.string_list(name, value)
            elif key in _STRING_KEYS:
                values[key] = self.choice(name, key, value, str)
            elif key in option_kinds:
                attr = key.replace("-", "_")
                convert[attr] = self.choice(name, attr, value, option_kinds[key])
            else:
                known = [*_PATH_LIST_KEYS, *_PATH_KEYS, *_STRING_LIST_KEYS, *_STRING_KEYS,
                         *option_kinds, *([] if prefix else [_PROJECT_TABLE])]
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else (
                    "known keys: " + ", ".join(sorted(known)))
                self.fail(name, "unknown key in kompy's configuration", hint)
        return dataclasses.replace(
            base,
            files=values.get("files", base.files),
            env_files=values.get("env-files", base.env_files),
            project_directory=values.get("project-directory", base.project_directory),
            manifests=values.get("manifests", base.manifests),
            templates=values.get("templates", base.templates),
            profiles=values.get("profiles", base.profiles),
            project_name=values.get("project-name", base.project_name),
            format=values.get("format", base.format),
            convert=convert,
        )

    def choice(self, name: str, attr: str, value: Any, kind: type) -> Any:
        # bool is an int in Python; TOML keeps them apart and so do we.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(name, f"must be {_TOML_TYPE[kind]}, not {_toml_type(value)}")
            return None
        choices = _CHOICES.get(attr)
        if choices and value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            self.fail(name, f"must be one of {', '.join(choices)}, not {value!r}", hint)
        return value

    def string_list(self, name: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.fail(name, f"must be a string or an array of strings, not {_toml_type(value)}")
        return ()

    def path_list(self, name: str, value: Any) -> tuple[str, ...]:
        return tuple(p for p in (self.resolve(name, v) for v in self.string_list(name, value)) if p)

    def one_path(self, name: str, value: Any) -> str | None:
        if not isinstance(value, str):
            self.fail(name, f"must be a string (a path), not {_toml_type(value)}")
            return None
        return self.resolve(name, value)

    def resolve(self, name: str, value: str) -> str | None:
        """An absolute path, refused when it leaves the repository (check reads nothing else)."""
        path = (self.base / value).resolve()
        if path != self.repo_root and self.repo_root not in path.parents:
            self.fail(name, f"{value!r} is outside the repository {self.repo_root}",
                      "kompy check reads only files inside the repository")
            return None
        return str(path)


def convert_option_kinds() -> dict[str, type]:
    """ConvertOptions fields a configuration may set, kebab-case, with their TOML value type."""
    hints = typing.get_type_hints(ConvertOptions)
    kinds: dict[str, type] = {}
    for f in dataclasses.fields(ConvertOptions):
        if f.name in _NOT_CONFIGURABLE:
            continue
        args = set(typing.get_args(hints[f.name])) or {hints[f.name]}
        kind = next((t for t in (bool, int, float, str) if t in args), str)
        kinds[f.name.replace("_", "-")] = kind
    return kinds


_TOML_TYPE: dict[type, str] = {
    bool: "a boolean", int: "an integer", float: "a float", str: "a string"}


def _toml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return _TOML_TYPE.get(type(value), type(value).__name__)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot read the configuration: {e.strerror}",
                        location=_loc(path)) from None
    except UnicodeDecodeError:
        raise UserError("configuration is not valid UTF-8", location=_loc(path)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends with "(at line L, column C)"; keep it as a position.
        match = re.search(r"\(at line (\d+), column (\d+)\)$", str(e))
        line, column = (int(match[1]), int(match[2])) if match else (0, 0)
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(e))
        raise UserError(f"invalid TOML: {message}",
                        location=SourceLocation(str(path), line, column)) from None


def _table_of(path: Path) -> dict[str, Any]:
    """The kompy table of an explicitly named configuration file."""
    data = _read_toml(path)
    if path.name != PYPROJECT:
        return data
    tool = data.get("tool")
    if not isinstance(tool, dict) or "kompy" not in tool:
        raise UserError("no [tool.kompy] table in this file", location=_loc(path))
    table: dict[str, Any] = tool["kompy"]
    return table


def _loc(path: Path, line: int = 0) -> SourceLocation:
    return SourceLocation(str(path), line)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)
