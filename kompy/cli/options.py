"""Options shared by commands: which Compose project (config, convert, up, down, dev), and
which cluster and namespace (the kubectl-shaped commands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from kompy.client import KubeClient
    from kompy.dev.target import ClusterTarget

F = TypeVar("F", bound=Callable[..., Any])


def project_options(fn: F) -> F:
    """``-f``, ``-p``, ``--project-directory``, ``--env-file``, ``--profile``: which project,
    named as ``docker compose`` names them."""
    for decorator in reversed([
        click.option("-f", "--file", "files", multiple=True, metavar="FILE",
                     help="Compose file (repeatable; merged in order). Default: discovered."),
        click.option("-p", "--project-name", "project_name", metavar="NAME",
                     help="Project name."),
        click.option("--project-directory", metavar="DIR",
                     help="Project directory (default: the first Compose file's folder)."),
        click.option("--env-file", "env_files", multiple=True, metavar="FILE",
                     help="Variables for interpolation instead of .env (repeatable)."),
        click.option("--profile", "profiles", multiple=True, metavar="PROFILE",
                     help="Enable a profile (repeatable; '*' enables all)."),
    ]):
        fn = decorator(fn)
    return fn


# Which built-in cluster (a name under $KOMPY_HOME); every cluster-facing command takes it.
cluster_option = click.option("--cluster", envvar="KOMPY_CLUSTER",
                              help='Built-in cluster name (default: "default").')


class PflagBoolCommand(click.Command):
    """Reads ``--watch=false`` / ``-w=false`` / ``--wait=true`` as kubectl (pflag) does for
    each ``--x/--no-x`` flag of the command: a boolean flag takes a value only after ``=``,
    so ``-w deploy/web`` still names the object."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags: dict[str, click.Option] = {
            name: param for param in self.params
            if isinstance(param, click.Option) and param.is_flag and param.secondary_opts
            for name in param.opts}
        fixed = []
        for arg in args:
            flag, eq, value = arg.partition("=")
            option = flags.get(flag) if eq else None
            if option is not None:
                on = max(option.opts, key=len)
                try:
                    arg = on if click.BOOL.convert(value, None, ctx) else option.secondary_opts[0]
                except click.BadParameter as e:
                    raise click.BadParameter(str(e), param_hint=f"'{on}'") from None
            fixed.append(arg)
        return super().parse_args(ctx, fixed)


def duration_seconds(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """A Compose-style duration option ("120s", "2m", "1m30s", or bare seconds) in seconds."""
    from kompy.errors import KompyError
    from kompy.model.base import NullLocator
    from kompy.model.values import Duration

    try:
        return Duration.parse(value, NullLocator(), ()).seconds
    except KompyError:
        raise click.BadParameter(f"{value!r} is not a duration (like 120s, 2m)") from None


def target_options(fn: F) -> F:
    """``--kubeconfig``/``--context`` (a real cluster) or ``--cluster`` (a built-in one), and
    ``-n``: which cluster and namespace a kubectl-shaped command talks to."""
    for option in reversed([
        click.option("--kubeconfig", "kubeconfig_path", envvar="KOMPY_KUBECONFIG",
                     help="Use this kubeconfig (a real cluster) instead of the built-in one."),
        click.option("--context", help="Use this kubeconfig context (a real cluster)."),
        click.option("--user", expose_value=False, callback=_remember_user, metavar="NAME",
                     help="Use this kubeconfig user instead of the context's "
                          "(with --kubeconfig/--context)."),
        cluster_option,
        click.option("-n", "--namespace", help="Namespace (default: the context's, else "
                                               "\"default\")."),
    ]):
        fn = option(fn)
    return fn


def _remember_user(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Kept aside rather than passed to every command: only target_client reads it.
    ctx.meta["kompy.user"] = value


def target_client(kubeconfig_path: str | None, context: str | None, cluster: str | None,
                  *, start: bool = False) -> KubeClient:
    """The client those options name. Commands that change the cluster pass ``start``: the
    built-in cluster is started when it is not running, saying so on stderr. Read-only ones
    (get, describe, logs...) never start one: they say that it is not running (exit 2)."""
    from kompy.cluster.daemon.process import connect_client
    current = click.get_current_context(silent=True)
    user = current.meta.get("kompy.user") if current is not None else None
    if user and not (kubeconfig_path or context):
        raise click.UsageError("--user picks a user of a kubeconfig: give --kubeconfig or "
                               "--context too")
    client = connect_client(kubeconfig_path, context, cluster, start=start, announce=announce,
                            user=user)
    client.on_warning = print_warning
    return client


_warned: set[str] = set()


def print_warning(text: str) -> None:
    """A warning of the API server, as kubectl prints them (each once per command)."""
    if text not in _warned:
        _warned.add(text)
        click.echo(f"Warning: {text}", err=True)


def announce(line: str) -> None:
    """A progress line that is not the command's output (stderr keeps stdout clean)."""
    click.echo(line, err=True)


def echo_raw(text: str) -> None:
    """Print core output as it is (it carries its own newlines)."""
    click.echo(text, nl=False)


def _keep(ctx: click.Context, param: click.Parameter, value: object) -> None:
    # Kept aside rather than passed to each command: only cluster_target reads them.
    ctx.meta[f"kompy.target.{param.name}"] = value


default_repo_option = click.option(
    "--default-repo", envvar="KOMPY_DEFAULT_REPO", metavar="REGISTRY",
    help="Put every built image under this registry/repository, renamed as Skaffold's "
         "--default-repo renames them (e.g. 127.0.0.1:5000, gcr.io/my-project).")


def deploy_target_options(*, images: bool) -> Callable[[F], F]:
    """``--kubeconfig``/``--context`` for ``up``, ``down`` and ``dev`` (any cluster; the
    built-in one by default), and with ``images`` the options of what is deployed there:
    ``--default-repo``, ``--push``, ``--builtin-extras``. Read by :func:`cluster_target`."""
    options = [
        click.option("--kubeconfig", "kubeconfig", envvar="KOMPY_KUBECONFIG",
                     expose_value=False, callback=_keep,
                     help="Use this kubeconfig (any cluster) instead of the built-in one."),
        click.option("--context", "context", expose_value=False, callback=_keep,
                     help="Use this kubeconfig context (any cluster)."),
        click.option("-n", "--namespace", "namespace", expose_value=False, callback=_keep,
                     help="The project's namespace (default: one named after the project). "
                          "One that exists is used as it is, and down removes only kompy's "
                          "objects from it."),
    ]
    if images:
        options += [
            click.option("--default-repo", "default_repo", envvar="KOMPY_DEFAULT_REPO",
                         metavar="REGISTRY", expose_value=False, callback=_keep,
                         help="Put the built images under this registry (Skaffold's "
                              "--default-repo renaming) and push them there."),
            click.option("--push/--no-push", "push", default=None, expose_value=False,
                         callback=_keep,
                         help="Push the built images (default: when --default-repo is given)."),
            click.option("--builtin-extras/--no-builtin-extras", "builtin_extras",
                         default=None, expose_value=False, callback=_keep,
                         help="Use what the built-in cluster does beyond Kubernetes (host "
                              "ports on 127.0.0.1, in-place restarts). Default: on for the "
                              "built-in cluster, off for others; also KOMPY_BUILTIN_EXTRAS."),
        ]

    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


def cluster_target(cluster: str | None) -> ClusterTarget:
    """The cluster and image options :func:`deploy_target_options` collected."""
    from kompy.dev.target import ClusterTarget

    meta = click.get_current_context().meta

    def get(name: str) -> Any:
        return meta.get(f"kompy.target.{name}")
    return ClusterTarget(kubeconfig=get("kubeconfig"), context=get("context"), cluster=cluster,
                         namespace=get("namespace"),
                         default_repo=get("default_repo"), push=get("push"),
                         builtin_extras=get("builtin_extras"))
