"""``kompy config``: the resolved, normalised project, like ``docker compose config``."""

from __future__ import annotations

import sys
from typing import Any

import click

from kompy.cli import warn
from kompy.cli.options import project_options


@click.command("config")
@project_options
@click.option("--no-interpolate", is_flag=True, help="Do not substitute ${VARIABLES}.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="Output format.")
@click.option("--services", "list_services", is_flag=True, help="Print the service names.")
@click.option("--volumes", "list_volumes", is_flag=True, help="Print the volume names.")
@click.option("--profiles", "list_profiles", is_flag=True, help="Print the profile names.")
@click.option("--images", "list_images", is_flag=True, help="Print the image names.")
@click.option("-q", "--quiet", is_flag=True, help="Only validate; print nothing.")
@click.option("--allow-outside-project", is_flag=True,
              help="Allow reading env files, secrets and configs outside the project folder.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.argument("services", nargs=-1)
def config(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
           env_files: tuple[str, ...], profiles: tuple[str, ...], no_interpolate: bool,
           fmt: str, list_services: bool, list_volumes: bool, list_profiles: bool,
           list_images: bool, quiet: bool, allow_outside_project: bool, output: str | None,
           services: tuple[str, ...]) -> None:
    """Check the Compose project and print it resolved and normalised."""
    from kompy.compose.render import render_config
    from kompy.errors import Diagnostic

    diagnostics: list[Diagnostic] = []
    options: dict[str, Any] = {
        "files": files, "project_directory": project_directory, "project_name": project_name,
        "env_files": env_files, "profiles": ("*",) if list_profiles else profiles,
        "services": services, "interpolate": not no_interpolate,
        "allow_outside_project": allow_outside_project,
    }
    listing = ("services" if list_services else "volumes" if list_volumes
               else "profiles" if list_profiles else "images" if list_images else None)
    text = render_config(options, fmt, listing, diagnostics, quiet)
    for diagnostic in diagnostics:
        warn(diagnostic.format())
    if quiet:
        return
    if output:
        from pathlib import Path

        from kompy.errors import UserError
        from kompy.fsutil import write_atomic

        try:
            write_atomic(Path(output), text)
        except OSError as e:
            raise UserError(f"cannot write {output}: {e.strerror}",
                            hint="check the folder exists and is writable") from None
    else:
        sys.stdout.write(text)


COMMANDS = [config]
