"""``kompy rollout status|history|undo|restart|pause|resume``: kubectl's rollout commands, on
the built-in cluster or a real one (``--kubeconfig``/``--context``)."""

from __future__ import annotations

import sys

import click

from kompy.cli.options import (
    PflagBoolCommand,
    duration_seconds,
    echo_raw,
    target_client,
    target_options,
)


@click.group("rollout")
def rollout_group() -> None:
    """Follow, list, undo and restart the rollouts of Deployments (and StatefulSets,
    DaemonSets): TYPE/NAME or TYPE NAME, e.g. deploy/web."""


@rollout_group.command("status", cls=PflagBoolCommand)
@click.argument("kind")
@click.argument("name", required=False)
@click.option("-w", "--watch/--no-watch", default=True,
              help="Wait until the rollout is done (--watch=false: print the state once).")
@click.option("--timeout", default="0", callback=duration_seconds, show_default=True,
              help="Give up after this long (like 5m); 0 waits for ever.")
@click.option("--revision", type=click.IntRange(min=0), default=0,
              help="Pin to a specific revision for showing its status (Deployments: exit 1 "
                   "when the running revision differs); 0 means the latest.")
@target_options
def status_cmd(kind: str, name: str | None, watch: bool, timeout: float, revision: int,
               namespace: str | None, kubeconfig_path: str | None, context: str | None,
               cluster: str | None) -> None:
    """Wait for a rollout to finish, printing its progress (exit 1 if it fails)."""
    from kompy.kubectl.rollout import rollout_status
    sys.exit(rollout_status(target_client(kubeconfig_path, context, cluster), kind, name, namespace,
                            watch=watch, timeout=timeout, revision=revision, out=echo_raw))


@rollout_group.command("history")
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--revision", type=click.IntRange(min=0), default=0,
              help="Show this revision's pod template.")
@target_options
def history_cmd(kind: str, name: str | None, revision: int, namespace: str | None,
                kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """List a Deployment's revisions (REVISION, CHANGE-CAUSE), or show one."""
    from kompy.kubectl.rollout import history
    sys.exit(history(target_client(kubeconfig_path, context, cluster), kind, name, namespace,
                     revision, echo_raw))


@rollout_group.command("undo")
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--to-revision", type=click.IntRange(min=0), default=0,
              help="Roll back to this revision (default: the previous one).")
@target_options
def undo_cmd(kind: str, name: str | None, to_revision: int, namespace: str | None,
             kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Put an earlier revision's pod template back into a Deployment."""
    from kompy.kubectl.rollout import undo
    sys.exit(undo(target_client(kubeconfig_path, context, cluster, start=True), kind, name,
                  namespace, to_revision, echo_raw))


@rollout_group.command("restart")
@click.argument("kind")
@click.argument("name", required=False)
@target_options
def restart_cmd(kind: str, name: str | None, namespace: str | None,
                kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Replace every pod (stamps the pod template with kubectl.kubernetes.io/restartedAt)."""
    from kompy.kubectl.rollout import restart
    client = target_client(kubeconfig_path, context, cluster, start=True)
    sys.exit(restart(client, kind, name, namespace, echo_raw))


@rollout_group.command("pause")
@click.argument("kind")
@click.argument("name", required=False)
@target_options
def pause_cmd(kind: str, name: str | None, namespace: str | None,
              kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Stop rolling a Deployment: template changes wait until resume."""
    from kompy.kubectl.rollout import pause
    client = target_client(kubeconfig_path, context, cluster, start=True)
    sys.exit(pause(client, kind, name, namespace, echo_raw))


@rollout_group.command("resume")
@click.argument("kind")
@click.argument("name", required=False)
@target_options
def resume_cmd(kind: str, name: str | None, namespace: str | None,
               kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Resume a paused Deployment: it rolls to its current template."""
    from kompy.kubectl.rollout import resume
    client = target_client(kubeconfig_path, context, cluster, start=True)
    sys.exit(resume(client, kind, name, namespace, echo_raw))


COMMANDS = [rollout_group]
