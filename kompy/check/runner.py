"""``kompy check``: load, convert and validate each configured project, then compare its manifests.

Exit status (issue 5): 0 all is well; 1 committed manifests are stale (or ``--fix`` changed them
and ``--exit-non-zero-on-fix`` was asked for, as pre-commit hooks that modify files do); 2 a
project is invalid or the call is wrong. Nothing here talks to a Docker engine or a cluster,
and the loader never reads a file outside the project (``allow_outside_project=False``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kompy.check.config import CheckConfig, ProjectConfig, find_repo_root, load_config
from kompy.check.tree import FileChange, apply_changes, compare_tree
from kompy.errors import EXIT_OK, Diagnostic, KompyError, UserError

EXIT_STALE = 1


@dataclass(frozen=True)
class CheckRequest:
    """What the command line asked for; empty values fall back to the configuration."""

    files: tuple[str, ...] = ()
    manifests: str | None = None
    fix: bool = False
    exit_non_zero_on_fix: bool = False
    config_file: str | None = None
    cwd: str | None = None
    environ: Mapping[str, str] | None = None  # None: os.environ


@dataclass
class ProjectOutcome:
    label: str
    objects: int = 0
    changes: list[FileChange] = dataclasses.field(default_factory=list)
    fixed: bool = False
    error: KompyError | None = None


def run_check(request: CheckRequest, out: TextIO, err: TextIO) -> int:
    """Check every project and print what is wrong; returns the exit status."""
    cwd = Path(request.cwd or Path.cwd()).resolve()
    config = load_config(cwd, _cli_path(request.config_file, cwd))
    projects = select_projects(config, request, cwd)
    outcomes = [_check_one(project, config.repo_root, request, cwd, err) for project in projects]
    for outcome, project in zip(outcomes, projects, strict=True):
        _report(outcome, project, config.repo_root, out, err)
    return exit_status(outcomes, request)


def select_projects(
    config: CheckConfig, request: CheckRequest, cwd: Path
) -> tuple[ProjectConfig, ...]:
    """The configured projects, or one made of the configuration's defaults and the CLI's -f."""
    if not request.files and request.manifests is None:
        return config.projects
    root = find_repo_root(cwd) if config.file is None else config.repo_root
    base = config.defaults if len(config.projects) > 1 else config.projects[0]
    files = tuple(_inside(f, cwd, root, "-f") for f in request.files) or base.files
    manifests = (
        _inside(request.manifests, cwd, root, "--manifests")
        if request.manifests is not None
        else base.manifests
    )
    return (dataclasses.replace(base, files=files, manifests=manifests),)


def exit_status(outcomes: list[ProjectOutcome], request: CheckRequest) -> int:
    if any(o.error is not None for o in outcomes):
        return max(o.error.exit_code for o in outcomes if o.error is not None)
    changed = any(o.changes for o in outcomes)
    if changed and (not request.fix or request.exit_non_zero_on_fix):
        return EXIT_STALE
    return EXIT_OK


def _check_one(
    project: ProjectConfig, root: Path, request: CheckRequest, cwd: Path, err: TextIO
) -> ProjectOutcome:
    outcome = ProjectOutcome(project.label(root, cwd))
    try:
        rendered = render_project(project, cwd, request)
        for diagnostic in rendered.diagnostics:
            err.write(f"warning: {_display(diagnostic, root)}\n")
        outcome.objects = rendered.objects
        if rendered.compose_files:
            outcome.label = _relative(Path(rendered.compose_files[0]), root)
        if project.manifests is not None:
            folder = Path(project.manifests)
            outcome.changes = compare_tree(folder, rendered.files)
            if request.fix and outcome.changes:
                apply_changes(folder, outcome.changes)
                outcome.fixed = True
    except KompyError as error:
        outcome.error = error
    return outcome


@dataclass(frozen=True)
class Rendered:
    files: dict[str, str]  # manifest file name -> text, as `kompy convert -o DIR` writes them
    diagnostics: list[Diagnostic]
    objects: int
    compose_files: tuple[str, ...]


def render_project(project: ProjectConfig, cwd: Path, request: CheckRequest) -> Rendered:
    """Load, convert (which validates every object against its schema) and render one project."""
    # Imported here: loading the loader and the converter is most of check's time, and the
    # configuration errors above should not wait for it.
    from kompy.compose.loader import LoadOptions, load_project
    from kompy.convert import convert
    from kompy.convert.output import render_files

    diagnostics: list[Diagnostic] = []
    options = LoadOptions(
        files=project.files,
        project_directory=project.project_directory,
        project_name=project.project_name,
        env_files=project.env_files,
        profiles=project.profiles,
        allow_outside_project=False,
        environ=request.environ,
        cwd=project.directory or str(cwd),
    )
    loaded = load_project(options, diagnostics)
    conversion = convert(loaded, project.convert_options())
    diagnostics.extend(conversion.diagnostics)
    if project.manifests is not None:
        diagnostics.extend(_secret_warnings(conversion.objects, project))
    return Rendered(render_files(conversion, project.format), diagnostics,
                    len(conversion.objects), loaded.compose_files)


def _secret_warnings(objects: list[dict[str, Any]], project: ProjectConfig) -> list[Diagnostic]:
    """Committed manifests are for everyone with the repository: a Secret's value in them is
    in the git history for good, however it is rotated later."""
    from kompy.convert.output import file_name

    found = []
    for obj in objects:
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            path = Path(project.manifests or ".") / file_name(obj, project.format)
            found.append(Diagnostic(
                f"{path} holds the value of Secret {obj['metadata'].get('name')}; committed, "
                "it stays in the git history",
                hint="make the Compose secret `external: true` and create it in the cluster, "
                "or keep secret values (secret-looking `environment:` entries, env files) out "
                "of the repository"))
    return found


def _report(
    outcome: ProjectOutcome,
    project: ProjectConfig,
    root: Path,
    out: TextIO,
    err: TextIO,
) -> None:
    if outcome.error is not None:
        err.write(f"error: {_display(outcome.error, root)}\n")
        err.write(f"kompy check: {outcome.label}: invalid\n")
        return
    if project.manifests is None:
        out.write(f"kompy check: {outcome.label}: valid ({outcome.objects} objects)\n")
        return
    folder = _relative(Path(project.manifests), root)
    if not outcome.changes:
        out.write(f"kompy check: {outcome.label}: manifests in {folder}/ are up to date "
                  f"({outcome.objects} objects)\n")
        return
    for change in outcome.changes:
        display = f"{folder}/{change.rel}"
        if outcome.fixed:
            verb = {"stale": "updated", "missing": "created", "extra": "removed"}[change.kind]
            out.write(f"kompy check: {verb} {display}\n")
        else:
            out.write(f"{display}: {change.describe()}\n")
            if change.kind == "stale":  # a new or removed file's whole text says nothing
                out.write(change.diff(display))
    if not outcome.fixed:
        err.write(
            f"kompy check: {outcome.label}: {len(outcome.changes)} manifest file(s) in {folder}/ "
            "are stale\n  hint: run `kompy check --fix` to regenerate them\n"
        )


def _display(error: KompyError | Diagnostic, root: Path) -> str:
    """The error's own format, with paths inside the repository shown relative to it."""
    return error.format().replace(f"{root}{os.sep}", "")


def _inside(value: str, cwd: Path, root: Path, option: str) -> str:
    path = (cwd / value).resolve()
    if path != root and root not in path.parents:
        raise UserError(
            f"{option} {value}: outside the repository {root}",
            hint="kompy check reads only files inside the repository",
        )
    return str(path)


def _cli_path(value: str | None, cwd: Path) -> Path | None:
    return (cwd / value).resolve() if value else None


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)

