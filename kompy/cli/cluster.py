"""``kompy cluster ...`` and the kubectl-like commands: apply, get, describe, delete, logs,
exec, scale, port-forward. They talk to the built-in cluster (started on demand), or to a
real cluster chosen with ``--kubeconfig``/``--context``."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from kompy.cli.options import (
    PflagBoolCommand,
    cluster_option,
    duration_seconds,
    echo_raw,
    target_client,
    target_options,
)

F = Callable[..., Any]


def _write_bytes(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


# -- kompy cluster ------------------------------------------------------------------------------

@click.group("cluster")
def cluster_group() -> None:
    """Start, stop and inspect kompy's built-in cluster."""


@cluster_group.command("start")
@cluster_option
@click.option("--token-auth-file", type=click.Path(dir_okay=False), metavar="FILE",
              help='More users\' bearer tokens, as kube-apiserver\'s --token-auth-file: CSV '
                   'lines token,user,uid,"group1,group2". Copied into the cluster\'s state '
                   "folder (tokens.csv), where a running cluster picks up changes.")
@click.option("--ingress-ports", envvar="KOMPY_INGRESS_PORTS", metavar="HTTP,HTTPS",
              help="Where the Ingress listens on 127.0.0.1: HTTP,HTTPS port numbers (0: any "
                   "free port), auto (80 and 443 when free; the default) or off. Kept for "
                   "later starts.")
@click.option("--nodes", type=click.IntRange(1, 50), default=None, metavar="N",
              help="Run N nodes (kompy, kompy-m02, ...), each a failure domain of its own "
                   "(hostname and zone labels), on the one Docker engine. Nodes are kept; "
                   "more can be added to a running cluster.")
@click.option("--api-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve the API on 127.0.0.1:PORT (0: any free port). The port is kept "
                   "for later starts, so kubeconfigs handed out stay valid; give this only "
                   "to move the cluster (the old kubeconfigs then no longer reach it).")
def cluster_start(cluster: str | None, token_auth_file: str | None,
                  ingress_ports: str | None, nodes: int | None, api_port: int | None) -> None:
    """Start the cluster's daemon (API server, scheduler, controllers, kubelet, proxy,
    Ingress)."""
    from pathlib import Path

    from kompy.cluster.daemon.process import NO_RUNTIME_ENV, ingress_status, running, start
    from kompy.cluster.daemon.state import cluster_state
    from kompy.cluster.ingress.ports import parse_setting, read_state, write_state
    state = cluster_state(cluster)
    if token_auth_file:
        count = state.install_token_file(Path(token_auth_file))
        click.echo(f"token file: {count} token(s) from {token_auth_file}")
    if ingress_ports:
        setting = parse_setting(ingress_ports)
        if running(state) and read_state(state.dir).get("ports", "auto") != setting.text:
            click.echo(f"note: the cluster is running; --ingress-ports {setting.text} takes "
                       f"effect at its next start (`kompy cluster stop` first)", err=True)
        state.ensure_dir()
        write_state(state.dir, ports=setting.text)
    state, api, started = start(cluster, click.echo, api_port)
    if not started and api_port is not None and api_port not in (0, api.get("port")):
        click.echo(f"note: the cluster is running on port {api.get('port')}; --api-port "
                   f"takes effect when it starts (`kompy cluster stop` first)", err=True)
    verb = "started" if started else "already running"
    click.echo(f"cluster {state.name!r} {verb} at {api['url']} (pid {api['pid']})")
    click.echo(f"kubeconfig: {state.kubeconfig} (context {state.context})")
    if nodes:
        from kompy.cluster.daemon.process import client_for
        from kompy.cluster.kubelet.node import ensure_nodes
        for made in ensure_nodes(client_for(state, api), nodes):
            click.echo(f"node {made!r} added")
    if not os.environ.get(NO_RUNTIME_ENV):
        click.echo("ingress: " + ", ".join(ingress_status(state, int(api["pid"])).values()))


@cluster_group.command("stop")
@cluster_option
def cluster_stop(cluster: str | None) -> None:
    """Stop the daemon and the pods' containers; objects stay for the next start."""
    from kompy.cluster.daemon.process import stop
    from kompy.cluster.daemon.state import cluster_state
    name = cluster_state(cluster).name
    click.echo(f"cluster {name!r} stopped" if stop(cluster) else
               f"cluster {name!r} is not running")


@cluster_group.command("status")
@cluster_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def cluster_status(cluster: str | None, output: str) -> None:
    """Whether the cluster runs, where, and how many objects it holds."""
    from kompy.cluster.daemon.process import status
    info = status(cluster)
    if output == "json":
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key}: {', '.join(value.values()) if isinstance(value, dict) else value}")
    if not info["running"]:
        sys.exit(3)


@cluster_group.command("reset")
@cluster_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def cluster_reset(cluster: str | None, yes: bool) -> None:
    """Stop the cluster and delete everything: objects, containers, networks, volumes."""
    from kompy.cluster.daemon.process import reset
    from kompy.cluster.daemon.state import cluster_state
    state = cluster_state(cluster)
    if not yes:
        click.confirm(f"delete cluster {state.name!r} ({state.dir}) with all its pods and "
                      "volumes?", abort=True)
    started = time.monotonic()
    reset(cluster, click.echo)
    click.echo(f"cluster {state.name!r} reset in {time.monotonic() - started:.1f} s")


@cluster_group.command("cert")
@click.argument("hosts", nargs=-1, required=True)
@click.option("--secret", metavar="NAME", help="The Secret's name (default: from the first "
                                               "host, shop.local -> shop-local-tls).")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--days", type=int, default=825, show_default=True, help="Validity.")
@cluster_option
def cluster_cert(hosts: tuple[str, ...], secret: str | None, namespace: str, days: int,
                 cluster: str | None) -> None:
    """A certificate for HOSTS from the cluster's local CA, stored as a TLS Secret for
    Ingresses (spec.tls) and pods; prints how to trust the CA."""
    from kompy.cli.options import announce
    from kompy.cluster.daemon.process import NO_RUNTIME_ENV, client_for, ingress_status, start
    from kompy.cluster.ingress.certcmd import issue_secret
    state, api, _ = start(cluster, announce)
    issued = issue_secret(client_for(state, api), state.dir, list(hosts), namespace, secret,
                          days)
    click.echo(f"secret/{issued.secret} {issued.verb} in namespace {issued.namespace}: a "
               f"certificate for {', '.join(issued.hosts)} from the cluster's local CA, valid "
               f"until {issued.not_after:%Y-%m-%d}")
    click.echo(f"use it in an Ingress: spec.tls: [{{hosts: [{', '.join(issued.hosts)}], "
               f"secretName: {issued.secret}}}]")
    https = "" if os.environ.get(NO_RUNTIME_ENV) else ingress_status(state, int(api["pid"]))[
        "https"]
    port = https.rsplit(":", 1)[1] if https.startswith("https://") else "443"
    host = next((h for h in issued.hosts if not h.startswith("*")), "app." + issued.hosts[0][2:])
    suffix = "" if port == "443" else f":{port}"
    click.echo(f"trust the CA ({issued.ca_file}), e.g.:\n"
               f"  curl --cacert {issued.ca_file} --resolve {host}:{port}:127.0.0.1 "
               f"https://{host}{suffix}/")


@cluster_group.command("kubeconfig")
@cluster_option
@click.option("--user", metavar="NAME",
              help="Mint a restricted kubeconfig for this person: a ServiceAccount NAME in "
                   "--namespace, bound to --role there, and a token for it.")
@click.option("-n", "--namespace", metavar="NS",
              help="The namespace the --user may work in (required with --user).")
@click.option("--role", type=click.Choice(["view", "edit", "admin"]), default="view",
              show_default=True, help="The ClusterRole --user gets in --namespace.")
@click.option("--duration", default="24h", show_default=True,
              callback=lambda ctx, param, value: duration_seconds(ctx, param, value),
              help="How long the --user's token is valid (at least 10m).")
def cluster_kubeconfig(cluster: str | None, user: str | None, namespace: str | None,
                       role: str, duration: float) -> None:
    """Print the cluster's kubeconfig (starts the cluster if needed): the administrator's,
    or with --user a restricted one."""
    from kompy.cli.options import announce
    if user is None:
        if namespace is not None:
            raise click.UsageError("--namespace goes with --user")
        from kompy.cluster.daemon.process import kubeconfig_text
        click.echo(kubeconfig_text(cluster, announce), nl=False)
        return
    if not namespace:
        raise click.UsageError("--user needs --namespace: the namespace NAME may work in")
    from kompy.cluster.daemon.userconfig import restricted_kubeconfig
    text, expires = restricted_kubeconfig(cluster, user, namespace, role, int(duration),
                                          announce)
    click.echo(text, nl=False)
    click.echo(f"kubeconfig of {user!r} ({role} in namespace {namespace}); its token expires "
               f"at {expires}", err=True)


# -- kubectl-like commands -------------------------------------------------------------------

@click.command("apply")
@click.option("-f", "--filename", "files", multiple=True, required=True,
              help="Manifest file, folder, or - for standard input (repeatable).")
@target_options
def apply_cmd(files: tuple[str, ...], namespace: str | None, kubeconfig_path: str | None,
              context: str | None, cluster: str | None) -> None:
    """Create or update objects from Kubernetes manifests."""
    from kompy.kubectl.commands import apply, read_for_apply
    found = read_for_apply(files)
    sys.exit(apply(target_client(kubeconfig_path, context, cluster, start=True), files,
                   namespace, echo_raw, found))


@click.command("get")
@click.argument("kind")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["wide", "yaml", "json", "name"]))
@click.option("-l", "--selector", help="Label selector, e.g. app=web,tier!=db.")
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-w", "--watch", is_flag=True, help="After listing, print changes as they come.")
@target_options
def get_cmd(kind: str, names: tuple[str, ...], output: str | None, selector: str | None,
            all_namespaces: bool, watch: bool, namespace: str | None,
            kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """List objects, or show some by name (kubectl's tables)."""
    from kompy.kubectl.commands import get
    sys.exit(get(target_client(kubeconfig_path, context, cluster), kind, names, namespace=namespace,
                 all_namespaces=all_namespaces, output=output, selector=selector, watch=watch,
                 out=echo_raw))


@click.command("describe")
@click.argument("kind")
@click.argument("name", required=False)
@target_options
def describe_cmd(kind: str, name: str | None, namespace: str | None,
                 kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Show one object in detail, with its events."""
    from kompy.errors import UserError
    from kompy.kubectl.describe import describe
    if name is None:
        if "/" not in kind:
            raise UserError("name the object: kompy describe KIND NAME")
        kind, name = kind.split("/", 1)
    echo_raw(describe(target_client(kubeconfig_path, context, cluster), kind, name, namespace))


@click.command("delete", cls=PflagBoolCommand)
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "files", multiple=True, help="Delete what these manifests "
                                                               "define.")
@click.option("-l", "--selector", help="Delete every object of KIND matching this selector.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the objects are gone (finalizers done, pods stopped); "
                   "--wait=false returns at once.")
@click.option("--timeout", default="0s", callback=duration_seconds, show_default=True,
              help="Give up waiting for an object after this long (like 60s); 0 waits "
                   "for ever.")
@target_options
def delete_cmd(kind: str | None, names: tuple[str, ...], files: tuple[str, ...],
               selector: str | None, wait: bool, timeout: float, namespace: str | None,
               kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Delete objects by kind and name, by selector, or from manifests, and wait until they
    are gone."""
    from kompy.kubectl.commands import delete
    sys.exit(delete(target_client(kubeconfig_path, context, cluster, start=True), kind, names,
                    files, namespace, selector, echo_raw, wait=wait, timeout=timeout))


@click.command("logs")
@click.argument("target", required=False)
@click.argument("container_arg", metavar="[CONTAINER]", required=False)
@click.option("-c", "--container", help="Print the logs of this container.")
@click.option("-l", "--selector", help="Logs of every pod matching this label selector (the "
                                       "last 10 lines of each unless --tail says otherwise).")
@click.option("-f", "--follow", is_flag=True, help="Stream the logs.")
@click.option("-p", "--previous", is_flag=True,
              help="The previous (crashed) container's log.")
@click.option("--tail", type=int, help="Lines of recent log to show (-1: all; default all, "
                                       "or 10 with a selector).")
@click.option("--since", help="Only logs newer than a duration like 5s, 2m or 3h.")
@click.option("--since-time", help="Only logs after this time (RFC 3339).")
@click.option("--timestamps", is_flag=True, help="Start each line with its RFC 3339 time.")
@click.option("--prefix", is_flag=True, help="Start each line with [pod/NAME/CONTAINER].")
@click.option("--all-containers", is_flag=True, help="Every container's logs, init "
                                                     "containers first.")
@click.option("--max-log-requests", type=int, default=5, show_default=True,
              help="How many logs -f may follow at once (with a selector).")
@target_options
def logs_cmd(target: str | None, container_arg: str | None, container: str | None,
             selector: str | None, follow: bool, previous: bool, tail: int | None,
             since: str | None, since_time: str | None, timestamps: bool, prefix: bool,
             all_containers: bool, max_log_requests: int, namespace: str | None,
             kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Print the logs of a pod's container, as kubectl logs: POD, TYPE/NAME (deploy/web,
    svc/web, job/migrate: one of its pods) or -l SELECTOR."""
    from kompy.errors import UserError
    from kompy.kubectl.logs import LogOptions, check, logs
    if container_arg and container:
        raise UserError("only one of -c or an inline [CONTAINER] arg is allowed")
    options = LogOptions(container=container or container_arg, follow=follow,
                         previous=previous, tail=tail, since=since, since_time=since_time,
                         timestamps=timestamps, prefix=prefix, all_containers=all_containers,
                         selector=selector, max_log_requests=max_log_requests)
    check(target, options)   # a wrong call is said before the cluster is asked anything
    sys.exit(logs(target_client(kubeconfig_path, context, cluster), target, namespace,
                  options, _write_bytes, lambda line: click.echo(line, err=True)))


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-c", "--container")
@click.option("-i", "--stdin", "use_stdin", is_flag=True, help="Pass standard input.")
@click.option("-t", "--tty", is_flag=True, help="Run the command in a terminal.")
@target_options
def exec_cmd(target: str, command: tuple[str, ...], container: str | None, use_stdin: bool,
             tty: bool, namespace: str | None, kubeconfig_path: str | None,
             context: str | None, cluster: str | None) -> None:
    """Run a command in a pod's container: kompy exec POD [-it] -- CMD [ARGS...]."""
    from kompy.kubectl.execute import exec_, system_console
    sys.exit(exec_(target_client(kubeconfig_path, context, cluster), target, namespace,
                   list(command), container=container, stdin=use_stdin, tty=tty,
                   console=system_console()))


@click.command("attach")
@click.argument("target")
@click.option("-c", "--container")
@click.option("-i", "--stdin", "use_stdin", is_flag=True, help="Pass standard input.")
@click.option("-t", "--tty", is_flag=True, help="The container runs in a terminal.")
@target_options
def attach_cmd(target: str, container: str | None, use_stdin: bool, tty: bool,
               namespace: str | None, kubeconfig_path: str | None, context: str | None,
               cluster: str | None) -> None:
    """Attach to the main process of a pod's container (its output from now on)."""
    from kompy.kubectl.execute import attach, system_console
    sys.exit(attach(target_client(kubeconfig_path, context, cluster), target, namespace,
                    container=container, stdin=use_stdin, tty=tty, console=system_console()))


@click.command("cp")
@click.argument("source")
@click.argument("dest")
@click.option("-c", "--container")
@target_options
def cp_cmd(source: str, dest: str, container: str | None, namespace: str | None,
           kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Copy files to or from a pod's container: kompy cp ./dir POD:/tmp/dir, or back."""
    from kompy.kubectl.cp import cp
    sys.exit(cp(target_client(kubeconfig_path, context, cluster), source, dest, namespace,
                container, lambda line: click.echo(line, err=True)))


@click.command("scale")
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--replicas", type=int, required=True)
@target_options
def scale_cmd(kind: str, name: str | None, replicas: int, namespace: str | None,
              kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Set the replicas of a Deployment, ReplicaSet or StatefulSet."""
    from kompy.kubectl.commands import scale
    client = target_client(kubeconfig_path, context, cluster, start=True)
    sys.exit(scale(client, kind, name, replicas, namespace, echo_raw))


@click.command("port-forward")
@click.argument("target")
@click.argument("ports", nargs=-1, required=True)
@target_options
def port_forward_cmd(target: str, ports: tuple[str, ...], namespace: str | None,
                     kubeconfig_path: str | None, context: str | None,
                     cluster: str | None) -> None:
    """Listen on 127.0.0.1:LOCAL and relay to a pod (POD, svc/NAME, deploy/NAME):REMOTE,
    for each [LOCAL:]REMOTE given."""
    from kompy.kubectl.portforward import parse_ports, port_forward
    for mapping in ports:
        parse_ports(mapping)    # a bad mapping is refused before any cluster is asked
    sys.exit(port_forward(target_client(kubeconfig_path, context, cluster), target,
                          list(ports), namespace, lambda line: click.echo(line)))


@click.command("cordon")
@click.argument("node")
@target_options
def cordon_cmd(node: str, namespace: str | None, kubeconfig_path: str | None,
               context: str | None, cluster: str | None) -> None:
    """Mark a node unschedulable: new pods go elsewhere."""
    from kompy.kubectl.drain import cordon
    sys.exit(cordon(target_client(kubeconfig_path, context, cluster), node, echo_raw))


@click.command("uncordon")
@click.argument("node")
@target_options
def uncordon_cmd(node: str, namespace: str | None, kubeconfig_path: str | None,
                 context: str | None, cluster: str | None) -> None:
    """Mark a node schedulable again."""
    from kompy.kubectl.drain import cordon
    sys.exit(cordon(target_client(kubeconfig_path, context, cluster), node, echo_raw,
                    unschedulable=False))


@click.command("drain")
@click.argument("node")
@click.option("--ignore-daemonsets", is_flag=True, help="Leave DaemonSet pods in place.")
@click.option("--delete-emptydir-data", is_flag=True,
              help="Evict pods with emptyDir volumes too (their data is lost).")
@click.option("--force", is_flag=True, help="Evict pods that no controller manages too.")
@click.option("--grace-period", type=int, default=None,
              help="Seconds each pod gets to stop (its own setting by default).")
@click.option("--timeout", type=float, default=0.0,
              help="Give up after this many seconds (0: wait for ever).")
@target_options
def drain_cmd(node: str, ignore_daemonsets: bool, delete_emptydir_data: bool, force: bool,
              grace_period: int | None, timeout: float, namespace: str | None,
              kubeconfig_path: str | None, context: str | None, cluster: str | None) -> None:
    """Cordon a node and evict its pods through the Eviction API (PodDisruptionBudgets
    are honoured: a refused eviction is tried again every 5 s)."""
    from kompy.kubectl.drain import DrainOptions, drain
    options = DrainOptions(ignore_daemonsets, delete_emptydir_data, force, timeout,
                           grace_period)
    sys.exit(drain(target_client(kubeconfig_path, context, cluster), node, options,
                   echo_raw))


COMMANDS = [cluster_group, apply_cmd, get_cmd, describe_cmd, delete_cmd, logs_cmd, exec_cmd,
            attach_cmd, cp_cmd, scale_cmd, port_forward_cmd, cordon_cmd, uncordon_cmd,
            drain_cmd]
