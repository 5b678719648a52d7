"""``kompy build``: build (and push) the project's images, as ``skaffold build``."""

from __future__ import annotations

import sys

import click

from kompy.cli.options import default_repo_option, project_options


@click.command("build")
@project_options
@default_repo_option
@click.option("--push", is_flag=True,
              help="Push the images to their registry (those it already holds are skipped).")
@click.argument("services", nargs=-1)
def build(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
          env_files: tuple[str, ...], profiles: tuple[str, ...], default_repo: str | None,
          push: bool, services: tuple[str, ...]) -> None:
    """Build the images of services with `build:`, tagged by the hash of their inputs.

    An unchanged service keeps its tag and is neither built nor pushed again. Prints each
    service's image at the end.
    """
    from kompy.dev.build import BuildRequest, run_build

    request = BuildRequest(files=files, project_name=project_name,
                           project_directory=project_directory, env_files=env_files,
                           profiles=profiles, services=services, push=push,
                           default_repo=default_repo)
    sys.exit(run_build(request, sys.stdout, sys.stderr))


COMMANDS = [build]
