"""``kompy up`` and ``kompy down``: run a Compose project on the built-in cluster, and remove it."""

from __future__ import annotations

import re
import sys

import click

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(ctx: click.Context, param: click.Parameter, value: str) -> float:
    match = _DURATION.match(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration (like 120s, 2m)")
    return float(match[1]) * _UNIT[match[2] or "s"]


def _project_options(fn: click.decorators.FC) -> click.decorators.FC:
    for decorator in reversed([
        click.option("-f", "--file", "files", multiple=True, metavar="FILE",
                     help="Compose file (repeatable); default: discovered."),
        click.option("-p", "--project-name", help="Project name (also the namespace)."),
        click.option("--project-directory", metavar="DIR", help="Project directory."),
        click.option("--env-file", "env_files", multiple=True, metavar="FILE",
                     help="Environment file for interpolation (repeatable)."),
        click.option("--cluster", envvar="KOMPY_CLUSTER",
                     help="Built-in cluster name (default: \"default\")."),
    ]):
        fn = decorator(fn)
    return fn


@click.command("up")
@_project_options
@click.option("--profile", "profiles", multiple=True, help="Enable a profile (repeatable).")
@click.option("--build/--no-build", default=True, show_default=True,
              help="Build the images of services with `build:` first.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until every workload is ready.")
@click.option("--wait-timeout", default="120s", show_default=True, callback=_seconds,
              help="How long to wait for readiness.")
@click.argument("services", nargs=-1)
def up(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
       env_files: tuple[str, ...], cluster: str | None, profiles: tuple[str, ...],
       build: bool, wait: bool, wait_timeout: float, services: tuple[str, ...]) -> None:
    """Run the Compose project on the built-in cluster and print its URLs."""
    from kompy.dev.up import UpRequest, run_up

    request = UpRequest(files=files, project_name=project_name,
                        project_directory=project_directory, env_files=env_files,
                        profiles=profiles, services=services, build=build, wait=wait,
                        wait_timeout=wait_timeout, cluster=cluster)
    sys.exit(run_up(request, sys.stdout, sys.stderr))


@click.command("down")
@_project_options
@click.option("-v", "--volumes", is_flag=True,
              help="Also remove the Docker volumes of the project's volume claims.")
@click.option("--timeout", default="60s", show_default=True, callback=_seconds,
              help="How long to wait for the project's pods to stop.")
def down(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
         env_files: tuple[str, ...], cluster: str | None, volumes: bool,
         timeout: float) -> None:
    """Remove the project from the built-in cluster (volumes stay unless --volumes)."""
    from kompy.dev.down import DownRequest, run_down

    request = DownRequest(files=files, project_name=project_name,
                          project_directory=project_directory, env_files=env_files,
                          volumes=volumes, timeout=timeout, cluster=cluster)
    sys.exit(run_down(request, sys.stdout, sys.stderr))


COMMANDS = [up, down]
