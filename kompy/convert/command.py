"""``kompy convert`` as one call: load, convert, render, write atomically, print warnings.

Kept out of kompy/cli so the CLI stays a thin option parser (and click-free code is testable).
Output destinations: stdout (default or ``--stdout``), ``-o FILE`` (one multi-document file),
``-o DIR`` (one file per object; a path that exists as a folder, ends with "/", or has no
file extension). Everything is rendered and validated before the first byte is written,
and files are written with kompy.fsutil, so an error leaves no half-written output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kompy.convert.conversion import Conversion
from kompy.convert.options import ConvertOptions
from kompy.errors import EXIT_OK, ConvertError, Diagnostic, KompyError, MultiError, UserError
from kompy.model import Project

_FILE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ConvertRequest:
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    interpolate: bool = True
    allow_outside_project: bool = False
    out: str | None = None
    stdout: bool = False
    fmt: str = "yaml"
    report: str | None = None
    kustomize: bool = False
    chart: bool = False
    options: ConvertOptions = field(default_factory=ConvertOptions)
    # Read EXPOSE/USER of the project's images from the local engine, when one answers.
    inspect_images: bool = False
    # Kompose's --build (none | local), --push-image and --push-image-registry.
    build: str = "none"
    push_image: bool = False
    push_image_registry: str | None = None


def run_convert(request: ConvertRequest, stdout: TextIO, warn: Callable[[str], None],
                say: Callable[[str], None] | None = None) -> int:
    """Do the whole command; errors are raised as KompyError for the CLI's funnel.
    ``say`` receives progress lines (builds, pushes)."""
    from kompy.compose.loader import LoadOptions, load_project
    from kompy.convert import convert

    diagnostics: list[Diagnostic] = []
    project = load_project(LoadOptions(
        files=request.files, project_directory=request.project_directory,
        project_name=request.project_name, env_files=request.env_files,
        profiles=request.profiles, interpolate=request.interpolate,
        allow_outside_project=request.allow_outside_project,
    ), diagnostics)
    options = request.options
    if request.build == "local" or request.push_image or request.push_image_registry:
        options = _build_and_push(project, request, diagnostics, say or (lambda _: None))
    if request.inspect_images:
        options = _with_local_images(project, options)
    try:
        conversion = convert(project, options)
    except KompyError as error:
        error.warnings = (*diagnostics, *error.warnings)  # printed with the error
        raise
    _print_warnings([*diagnostics, *conversion.diagnostics], warn)
    if options.strict and diagnostics:
        raise MultiError([d.to_error() for d in diagnostics])
    outputs = _outputs(request, conversion, project)
    if request.report:
        from kompy.convert.report import report_json

        outputs[Path(request.report)] = report_json(project, conversion)
    _write(outputs, stdout)
    return EXIT_OK


def _build_and_push(project: Project, request: ConvertRequest, diagnostics: list[Diagnostic],
                    say: Callable[[str], None]) -> ConvertOptions:
    """Build the ``build:`` services' images (--build local) and push them (--push-image),
    before anything is written: a failed build or push leaves no manifests behind."""
    from dataclasses import replace

    from kompy.convert.builds import build_images, plan_builds, push_images

    options = request.options
    plan = plan_builds(project, options)
    diagnostics.extend(plan.diagnostics)
    built: dict[str, str] = {}
    if request.build == "local":
        built = build_images(plan, say)
    pushed: dict[str, str] = {}
    if request.push_image:
        pushed = push_images([spec.image for spec in plan.specs], request.push_image_registry,
                             say)
    elif request.push_image_registry:
        # As Kompose: a registry without --push-image pushes nothing, and says so.
        diagnostics.append(Diagnostic(
            f"--push-image-registry {request.push_image_registry} without --push-image: "
            "nothing is pushed", hint="add --push-image"))
    return replace(options, built_images=frozenset(built), cluster_images=pushed)


def _with_local_images(project: Project, options: ConvertOptions) -> ConvertOptions:
    """``options`` plus what the local engine knows of the project's images (unchanged when
    no engine answers: the conversion then does what it does without one)."""
    from dataclasses import replace

    from kompy.convert.images import project_images
    from kompy.engine.imageinfo import inspect_local_images

    refs = sorted(set(project_images(project, options).values()))
    found = inspect_local_images(refs) if refs else None
    if not found:
        return options
    return replace(options, images={**found, **options.images})


def _print_warnings(diagnostics: list[Diagnostic], warn: Callable[[str], None]) -> None:
    seen: set[str] = set()
    for diagnostic in diagnostics:
        text = diagnostic.format()
        if text not in seen:
            seen.add(text)
            warn(text)


def destination(out: str | None) -> str:
    """"stdout", "file" or "dir" for an ``-o`` value."""
    if not out or out == "-":
        return "stdout"
    path = Path(out)
    if path.is_file():
        return "file"
    if path.is_dir() or out.endswith(("/", "\\")) or path.suffix.lower() not in _FILE_SUFFIXES:
        return "dir"
    return "file"


def _outputs(request: ConvertRequest, conversion: Conversion,
             project: Project) -> dict[Path, str]:
    from kompy.convert.output import render_files, render_stream

    fmt = request.fmt
    where = "stdout" if request.stdout else destination(request.out)
    if request.chart:
        from kompy.convert.chart import render_chart

        # Like Kompose's --chart: a folder named after the project unless -o names one.
        base = Path(request.out or project.name)
        files = render_chart(conversion, project, request.options)
        return {base / name: text for name, text in files.items()}
    if where == "dir":
        assert request.out is not None
        base = Path(request.out)
        rendered = render_files(conversion, fmt)
        out = {base / name: text for name, text in rendered.items()}
        if request.kustomize:
            from kompy.convert.kustomize import KUSTOMIZATION, kustomization

            out[base / KUSTOMIZATION] = kustomization(list(rendered), request.options.namespace)
        return out
    if request.kustomize:
        raise ConvertError("--kustomize needs -o DIR", hint="for example: -o k8s/ --kustomize")
    text = render_stream(conversion, fmt)
    if where == "file":
        assert request.out is not None
        return {Path(request.out): text}
    return {Path("-"): text}


def _write(outputs: dict[Path, str], stdout: TextIO) -> None:
    from kompy.fsutil import write_tree_atomic

    to_stdout = outputs.pop(Path("-"), None)
    if outputs:
        try:
            write_tree_atomic(dict(outputs))
        except OSError as exc:
            raise UserError(f"cannot write {exc.filename or 'the output'}: {exc.strerror}",
                            hint="check the -o path and its permissions") from None
    if to_stdout is not None:
        stdout.write(to_stdout)
