"""``kompy dashboard``: the cluster and the dev loop in a browser, on 127.0.0.1."""

from __future__ import annotations

import sys

import click

from kompy.cli.options import cluster_option, target_client


@click.command("dashboard")
@click.option("--kubeconfig", "kubeconfig_path", envvar="KOMPY_KUBECONFIG",
              help="Use this kubeconfig (any cluster) instead of the built-in one.")
@click.option("--context", help="Use this kubeconfig context (any cluster).")
@cluster_option
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--open/--no-open", "open_browser", default=True,
              help="Open the login URL in a browser (where one exists).")
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="The Compose project whose service graph and `kompy dev` status to show "
                   "(default: discovered in the current folder).")
@click.option("--project-directory", metavar="DIR", help="The Compose project's folder.")
def dashboard_cmd(kubeconfig_path: str | None, context: str | None, cluster: str | None,
                  port: int, open_browser: bool, files: tuple[str, ...],
                  project_directory: str | None) -> None:
    """Serve a web dashboard of the cluster on 127.0.0.1 and print its one-time login URL.

    Pods, workloads, Services, events, ConfigMaps, Secrets (keys only) update live from the
    API's watches; scale, restart, undo, delete a pod and run a CronJob from the page.
    Works on any cluster: --context NAME picks one of your kubeconfig.
    """
    from kompy.cluster.daemon.state import kompy_home
    from kompy.dashboard.server import DashboardRequest, serve

    client = target_client(kubeconfig_path, context, cluster)
    where = context or (f"built-in cluster {cluster}" if cluster else "built-in cluster")
    if kubeconfig_path and not context:
        where = f"{kubeconfig_path} (current context)"
    request = DashboardRequest(context=where, port=port, open_browser=open_browser,
                               compose_files=files, project_directory=project_directory,
                               kompy_home=kompy_home())
    sys.exit(serve(client, request, lambda line: click.echo(line, err=False)))


COMMANDS = [dashboard_cmd]
