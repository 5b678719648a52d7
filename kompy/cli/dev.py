"""``kompy dev``: deploy the Compose project and keep it in step with its sources."""

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


@click.command("dev")
@project_options
@cluster_option
@deploy_target_options(images=True)
@click.option("--grace-period", default="2s", show_default=True, callback=duration_seconds,
              help="The longest a pod of the session gets to stop after SIGTERM (rollouts, "
                   "restarts, the clean-up on Ctrl-C), whatever stop_grace_period says.")
@click.option("--keep", is_flag=True,
              help="Leave the project running on Ctrl-C (default: remove it, as skaffold dev "
                   "does; volumes always stay).")
@click.option("--logs/--no-logs", default=True, show_default=True,
              help="Stream the logs of the project's pods.")
@click.option("--wait-timeout", default="120s", show_default=True, callback=duration_seconds,
              help="How long to wait for each rollout to be ready.")
def dev(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
        env_files: tuple[str, ...], cluster: str | None, profiles: tuple[str, ...],
        grace_period: float, keep: bool, logs: bool, wait_timeout: float) -> None:
    """Run the project on a cluster and update it as its sources change.

    Follows each service's Compose `develop.watch` rules: `sync` copies changed files into
    the running containers, `sync+restart` and `restart` restart them in place, `sync+exec`
    runs a command, `rebuild` rebuilds the image and rolls the pods. A service with `build:`
    and no `develop` section is rebuilt when its build context changes. A changed Compose or
    env file re-deploys the project. Ctrl-C stops and removes the project (a second Ctrl-C
    forces it). Any cluster with --context, its images pushed with --default-repo.
    """
    import math

    from kompy.dev.loop import DevRequest, run_dev

    request = DevRequest(files=files, project_name=project_name,
                         project_directory=project_directory, env_files=env_files,
                         profiles=profiles, cluster=cluster, cleanup=not keep, logs=logs,
                         wait_timeout=wait_timeout, target=cluster_target(cluster),
                         grace_period=math.ceil(grace_period))
    sys.exit(run_dev(request, sys.stdout, sys.stderr))


COMMANDS = [dev]
