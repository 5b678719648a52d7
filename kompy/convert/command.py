"""``kompy convert`` as one call: load, convert, render, write atomically, print warnings.

Kept out of kompy/cli so the CLI stays a thin option parser (and click-free code is testable).
Output destinations: stdout (default or ``--stdout``), ``-o FILE`` (one multi-document file),
``-o DIR`` (one file per object; a path that exists as a folder, ends with "/", or has no
file extension). Everything is rendered and validated before the first byte is written,
and files are written with kompy.fsutil, so an error leaves no half-written output.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kompy.convert import Conversion
from kompy.convert.options import ConvertOptions
from kompy.errors import EXIT_OK, ConvertError, Diagnostic, MultiError, UserError

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


def run_convert(request: ConvertRequest, stdout: TextIO, warn: Callable[[str], None]) -> int:
    """Do the whole command; errors are raised as KompyError for the CLI's funnel."""
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
    conversion = convert(project, options)
    _print_warnings([*diagnostics, *conversion.diagnostics], warn)
    if options.strict and diagnostics:
        raise MultiError([d.to_error() for d in diagnostics])
    outputs = _outputs(request, conversion, project.name)
    if request.report:
        outputs[Path(request.report)] = _report_text(conversion)
    _write(outputs, request, stdout, conversion)
    return EXIT_OK


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
    if path.is_dir() or out.endswith(("/", "\\")) or path.suffix.lower() not in _FILE_SUFFIXES:
        return "dir"
    return "file"


def _outputs(request: ConvertRequest, conversion: Conversion, project: str) -> dict[Path, str]:
    from kompy.convert.output import render_files, render_stream

    fmt = request.fmt
    where = "stdout" if request.stdout else destination(request.out)
    if request.chart:
        if where != "dir":
            where = "dir"
        base = Path(request.out or project)
        files = _extra("chart", "render_chart", conversion, project)
        return {base / name: text for name, text in files.items()}
    if where == "dir":
        assert request.out is not None
        base = Path(request.out)
        rendered = render_files(conversion, fmt)
        out = {base / name: text for name, text in rendered.items()}
        if request.kustomize:
            text = _extra("kustomize", "kustomization", list(rendered), request.options.namespace)
            out[base / "kustomization.yaml"] = text
        return out
    if request.kustomize:
        raise ConvertError("--kustomize needs -o DIR", hint="for example: -o k8s/ --kustomize")
    text = render_stream(conversion, fmt)
    if where == "file":
        assert request.out is not None
        return {Path(request.out): text}
    return {Path("-"): text}


def _extra(module: str, function: str, *args: Any) -> Any:
    """A feature of convert-extras (chart, kustomize); a clear error when it is not there."""
    try:
        mod = importlib.import_module(f"kompy.convert.{module}")
        builder = getattr(mod, function)
    except (ImportError, AttributeError):
        raise UserError(f"--{module} is not available in this build of kompy") from None
    return builder(*args)


def _report_text(conversion: Conversion) -> str:
    """--report: kompy.convert.report (convert-extras) when present, else the plain list."""
    try:
        from kompy.convert.report import render_report  # type: ignore[attr-defined]
    except ImportError:
        import json

        entries = [entry.to_dict() for entry in conversion.report]
        return json.dumps({"keys": entries}, indent=2, ensure_ascii=False) + "\n"
    text: str = render_report(conversion)
    return text


def _write(outputs: dict[Path, str], request: ConvertRequest, stdout: TextIO,
           conversion: Conversion) -> None:
    from kompy.fsutil import write_tree_atomic

    to_stdout = outputs.pop(Path("-"), None)
    if outputs:
        write_tree_atomic(dict(outputs))
    if to_stdout is not None:
        stdout.write(to_stdout)
