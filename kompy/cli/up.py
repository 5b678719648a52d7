"""``kompy up`` and ``kompy down``: run a Compose project on the built-in cluster, and remove it."""

from __future__ import annotations

import sys

import click

from kompy.cli.options import (
    cluster_option,
    cluster_target,
    deploy_target_options,
    duration_seconds,
    project_options,
)


def _project_and_cluster(fn: click.decorators.FC) -> click.decorators.FC:
    return project_options(cluster_option(fn))


@click.command("up")
@_project_and_cluster
@deploy_target_options(images=True)
@click.option("--build/--no-build", default=True, show_default=True,
              help="Build the images of services with `build:` first.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until every workload is ready.")
@click.option("--wait-timeout", default="120s", show_default=True, callback=duration_seconds,
              help="How long to wait for readiness.")
@click.argument("services", nargs=-1)
def up(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
       env_files: tuple[str, ...], cluster: str | None, profiles: tuple[str, ...],
       build: bool, wait: bool, wait_timeout: float, services: tuple[str, ...]) -> None:
    """Run the Compose project on the built-in cluster (or any cluster: --context) and print
    its URLs."""
    from kompy.dev.up import UpRequest, run_up

    request = UpRequest(files=files, project_name=project_name,
                        project_directory=project_directory, env_files=env_files,
                        profiles=profiles, services=services, build=build, wait=wait,
                        wait_timeout=wait_timeout, cluster=cluster,
                        target=cluster_target(cluster))
    sys.exit(run_up(request, sys.stdout, sys.stderr))


@click.command("down")
@_project_and_cluster
@deploy_target_options(images=False)
@click.option("-v", "--volumes", is_flag=True,
              help="Also remove the Docker volumes of the project's volume claims.")
@click.option("--timeout", default="60s", show_default=True, callback=duration_seconds,
              help="How long to wait for the project's pods to stop.")
def down(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
         env_files: tuple[str, ...], cluster: str | None, profiles: tuple[str, ...],
         volumes: bool, timeout: float) -> None:
    """Remove the project from the cluster (volumes stay unless --volumes).

    Everything in the project's namespace goes, whatever the profiles: ``--profile`` is
    accepted, as ``docker compose down`` accepts it, only to load the project the same way.
    """
    from kompy.dev.down import DownRequest, run_down

    request = DownRequest(files=files, project_name=project_name,
                          project_directory=project_directory, env_files=env_files,
                          volumes=volumes, timeout=timeout, cluster=cluster,
                          target=cluster_target(cluster))
    sys.exit(run_down(request, sys.stdout, sys.stderr))


COMMANDS = [up, down]
