"""What ``kompy dev`` does about a batch of changed files: the Compose ``develop.watch`` rules.

Pure: no Docker, no cluster, no watcher; it only reads the changed paths' existence and the
build contexts' ``.dockerignore`` files. Semantics follow the Compose Specification's
"Develop" section and Docker's "Use Compose Watch":

- a rule fires for a file that is its ``path`` or below it, is not matched by the rule's
  ``ignore`` patterns, matches its ``include`` patterns when there are any (both relative to
  the rule's path, .dockerignore syntax), and, for a service with a build context, is not
  excluded by that context's ``.dockerignore``. As the builder, kompy never lets the
  .dockerignore exclude the Dockerfile or the .dockerignore itself: both reach the builder;
- ``sync`` copies the file to ``target`` + its path below the rule's path (or deletes it
  there when it is gone from the host), ``sync+restart`` then restarts the service,
  ``sync+exec`` then runs the rule's ``exec.command``, ``restart`` restarts, ``rebuild``
  rebuilds the image and recreates the service; a rebuild makes the service's syncs,
  restart and commands moot (the new image has the files). A command's ``exec`` options
  (``user``, ``working_dir``, ``environment``) become part of the command
  (:func:`exec_command`, below).

kompy's own choice, beyond Compose (which acts only on rules): as Skaffold, a service with a
local ``build`` and no ``develop`` section is rebuilt when a file of its build context
changes that the context's ``.dockerignore`` does not exclude, or its Dockerfile changes.
A ``develop`` section with no watch rules opts a service out of that.

Two more parts of a rule:

**exec** (Compose Develop spec: ``command``, ``user``, ``privileged``, ``working_dir``,
``environment``). Compose runs the command with ``docker exec``, which takes all of them;
Kubernetes' exec API takes a command only, so the options become the command itself, which
then works on any cluster (the image needs ``sh``; ``env`` and ``su`` for those options):

- ``environment``: ``env K=V ... COMMAND`` (a key without a value is left out);
- ``working_dir``: ``sh -c 'cd "$1" && shift && exec "$@"' sh DIR COMMAND``;
- ``user``: ``su -s /bin/sh USER -c 'exec "$0" "$@"' -- COMMAND`` (the container must run as
  root to switch users; ``docker exec --user`` has no such need);
- ``privileged``: no command can grant it. On the built-in cluster with its extras the
  command runs through the Docker engine with ``privileged`` (as ``docker exec
  --privileged`` does: kompy/dev/engine_sync.py); elsewhere it runs unprivileged, and
  ``kompy dev`` says so once.

**initial_sync** (``sync``, ``sync+restart``, ``sync+exec`` rules): when the session starts,
every file the rule covers (its path, less ``ignore``, within ``include``, less the build
context's ``.dockerignore``) is synced into the running containers, and a ``sync+exec``
rule's command runs, as Compose makes sure the files are up to date before watching. A
``sync+restart`` rule restarts the containers only when its files are not all in the image
(outside the build context, or ``.dockerignore``'d): an image built from them has them.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kompy.engine.images import ignore_matcher
from kompy.model.build import Build
from kompy.model.lifecycle import WatchRule
from kompy.model.project import Project
from kompy.model.scalars import is_remote
from kompy.model.service import Service

SYNC_ACTIONS = frozenset({"sync", "sync+restart", "sync+exec"})
Matcher = Callable[[str], bool]  # a path relative to the patterns' root -> matched


@dataclass(frozen=True)
class SyncOp:
    host_path: str  # absolute path on the host
    container_path: str  # absolute path in the container (rule target + path below the rule)
    deleted: bool  # the host file is gone: delete it in the container


@dataclass
class ServicePlan:
    service: str
    rebuild: bool = False
    syncs: list[SyncOp] = field(default_factory=list)  # de-duplicated, by container_path
    restart: bool = False  # a sync+restart or restart rule fired
    exec_commands: list[tuple[str, ...]] = field(default_factory=list)  # rule order, once each
    changed: list[str] = field(default_factory=list)  # the paths that fired a rule, sorted

    def has_work(self) -> bool:
        return self.rebuild or self.restart or bool(self.syncs or self.exec_commands)


@dataclass
class ChangePlan:
    reload: bool = False  # a Compose file or env file changed: re-load everything
    services: dict[str, ServicePlan] = field(default_factory=dict)  # only those with work

    def empty(self) -> bool:
        return not self.reload and not self.services


def config_files(project: Project) -> list[str]:
    """The files whose change means re-loading the project: its Compose files, the project
    folder's ``.env`` (compose-spec "Interpolation"), the services' ``env_file``s and the
    files of top-level configs and secrets (their content is read at load time). The
    caller adds ``--env-file`` files, which the project does not record."""
    files = [*project.compose_files, os.path.join(project.working_dir, ".env")]
    for service in project.services.values():
        files.extend(env.path for env in service.env_files)
    defined = [d.file for d in project.configs.values()]
    defined += [d.file for d in project.secrets.values()]
    files.extend(os.path.join(project.working_dir, f) for f in defined if f)
    return sorted({os.path.abspath(f) for f in files})


def watched_roots(project: Project, extra_files: Iterable[str] = ()) -> list[str]:
    """What to watch: every rule's path, the build context (and a Dockerfile outside it) of
    each service that has a local ``build`` and no ``develop`` section, and the
    :func:`config_files` plus ``extra_files`` (``--env-file``).

    Folders are to be watched recursively; files (a Compose file, an env file, a rule's
    file) through their folder, so that a Compose file does not make the watcher walk the
    whole project. ``ChangeWatcher`` takes both.
    """
    roots = [*config_files(project), *extra_files]
    for service in project.services.values():
        if service.develop is not None:
            roots.extend(rule.path for rule in service.develop.watch)
        elif (build := _local_build(service)) is not None:
            roots.append(build.context)
            dockerfile = _dockerfile(build)
            if dockerfile is not None and not _within(dockerfile, build.context):
                roots.append(dockerfile)
    return sorted({os.path.abspath(r) for r in roots})


def plan_changes(project: Project, changed: Iterable[str],
                 config_files: Iterable[str]) -> ChangePlan:
    """The plan for one batch of changed absolute paths. ``config_files`` are the project's
    Compose and env files (:func:`config_files` plus ``--env-file`` files); a change to
    one, or below one, sets ``reload`` (services are planned all the same)."""
    paths = sorted({os.path.abspath(p) for p in changed})
    configs = {os.path.abspath(f) for f in config_files}
    # A config or secret may name a folder: a change inside it counts too.
    plan = ChangePlan(reload=any(p in configs or any(_within(p, c) for c in configs)
                                 for p in paths))
    for name in sorted(project.services):
        service_plan = _plan_service(project.services[name], paths)
        if service_plan.has_work():
            plan.services[name] = service_plan
    return plan


def _plan_service(service: Service, paths: list[str]) -> ServicePlan:
    build = _local_build(service)
    context = _BuildContext.of(build) if build is not None else None
    if service.develop is None:
        fired = [p for p in paths if context is not None and context.sends(p)]
        return ServicePlan(service.name, rebuild=bool(fired), changed=fired)
    plan = ServicePlan(service.name)
    syncs: set[SyncOp] = set()
    fired_paths: set[str] = set()
    for rule in service.develop.watch:
        if rule.action == "rebuild" and build is None:
            continue  # nothing to rebuild from; Compose refuses such a rule up front
        rule_filter = _RuleFilter.of(rule)
        fired = [p for p in paths if rule_filter.matches(p)
                 and (context is None or not context.excludes(p))]
        if not fired:
            continue
        fired_paths.update(fired)
        if rule.action == "rebuild":
            plan.rebuild = True
        if rule.action in SYNC_ACTIONS and rule.target is not None:
            syncs.update(op for p in fired if (op := _sync_op(rule, rule.target, p)))
        if rule.action in ("sync+restart", "restart"):
            plan.restart = True
        command = exec_command(rule)
        if rule.action == "sync+exec" and command is not None \
                and command not in plan.exec_commands:
            plan.exec_commands.append(command)
    plan.changed = sorted(fired_paths)
    if plan.rebuild:
        plan.restart = False
        plan.exec_commands = []
    else:
        plan.syncs = _collapse(syncs)
    return plan


@dataclass(frozen=True)
class _BuildContext:
    """A local build context and its .dockerignore, read afresh for each batch (the user may
    have just edited it)."""

    folder: str
    dockerfile: str | None
    ignored: Matcher

    @classmethod
    def of(cls, build: Build) -> _BuildContext:
        dockerfile = _dockerfile(build)
        # The Dockerfile always reaches the builder (the SDK adds "!Dockerfile" as well).
        keep = []
        if dockerfile is not None and _within(dockerfile, build.context):
            keep.append("!" + _relative(dockerfile, build.context))
        return cls(build.context, dockerfile, ignore_matcher(keep, context=build.context))

    def excludes(self, path: str) -> bool:
        """Whether ``path`` is in the context but left out by its .dockerignore."""
        return _within(path, self.folder) and self.ignored(_relative(path, self.folder))

    def sends(self, path: str) -> bool:
        """Whether a change to ``path`` changes what the builder gets: the context itself, a
        path in it the .dockerignore leaves in, or the Dockerfile (even from outside)."""
        if path in (self.folder, self.dockerfile):
            return True
        return _within(path, self.folder) and not self.excludes(path)


@dataclass(frozen=True)
class _RuleFilter:
    path: str
    ignored: Matcher | None
    included: Matcher | None

    @classmethod
    def of(cls, rule: WatchRule) -> _RuleFilter:
        return cls(
            path=rule.path,
            ignored=ignore_matcher(rule.ignore) if rule.ignore else None,
            included=ignore_matcher(rule.include) if rule.include else None,
        )

    def matches(self, path: str) -> bool:
        """The rule's path itself (a file rule, or the folder created or removed), or a
        path below it that ``ignore`` leaves and ``include`` takes."""
        if path == self.path:
            return True
        if not _within(path, self.path):
            return False
        relative = _relative(path, self.path)
        if self.ignored is not None and self.ignored(relative):
            return False
        return self.included is None or self.included(relative)


def _sync_op(rule: WatchRule, target: str, path: str) -> SyncOp | None:
    """Where ``path`` goes in the container; None for an existing folder, whose files come
    as their own changes (copying the folder would bypass ignore and include)."""
    if os.path.isdir(path) and not os.path.islink(path):
        return None
    below = "" if path == rule.path else _relative(path, rule.path)
    # A relative target is taken from the container's root, as `docker cp` takes it.
    container_path = posixpath.normpath(posixpath.join("/", target, below))
    return SyncOp(host_path=path, container_path=container_path,
                  deleted=not os.path.lexists(path))


def _collapse(syncs: set[SyncOp]) -> list[SyncOp]:
    """Sorted by container path; a deletion below a deleted folder is dropped (removing the
    folder removes it)."""
    ordered = sorted(syncs, key=lambda op: (op.container_path, op.host_path))
    kept: list[SyncOp] = []
    removed: list[str] = []
    for op in ordered:
        if op.deleted and any(_within(op.container_path, r, "/") for r in removed):
            continue
        if op.deleted:
            removed.append(op.container_path)
        kept.append(op)
    return kept


def builds_from(service: Service, paths: Iterable[str]) -> bool:
    """Whether the service's image is built from every one of ``paths`` (they are in its
    local build context and its .dockerignore leaves them in)."""
    build = _local_build(service)
    if build is None:
        return False
    context = _BuildContext.of(build)
    return all(context.sends(os.path.abspath(p)) for p in paths)


class ExecCommand(tuple[str, ...]):
    """A ``sync+exec`` command as run through the exec API, and whether the rule asked for
    ``privileged`` (which only the engine can grant)."""

    privileged: bool

    def __new__(cls, argv: tuple[str, ...], privileged: bool = False) -> ExecCommand:
        made = super().__new__(cls, argv)
        made.privileged = privileged
        return made


def exec_command(rule: WatchRule) -> ExecCommand | None:
    if rule.exec_command is None:
        return None
    block: dict[str, Any] = dict(rule.extra.get("exec") or {})
    argv = list(rule.exec_command)
    env = _environment(block.get("environment"))
    if env:
        argv = ["env", *env, *argv]
    if block.get("working_dir"):
        argv = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", str(block["working_dir"]),
                *argv]
    if block.get("user"):
        # "--": su's option parser (busybox's permutes) must not take the command's "-c".
        argv = ["su", "-s", "/bin/sh", str(block["user"]), "-c", 'exec "$0" "$@"', "--",
                *argv]
    return ExecCommand(tuple(argv), true(block.get("privileged")))


def _environment(raw: Any) -> list[str]:
    """Compose's list_or_dict, as ``KEY=VALUE`` words (keys without a value are dropped)."""
    if isinstance(raw, dict):
        return [f"{k}={'' if v is None else _scalar(v)}" for k, v in raw.items() if v is not None]
    if isinstance(raw, list):
        return [str(item) for item in raw if "=" in str(item)]
    return []


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _local_build(service: Service) -> Build | None:
    build = service.build
    if build is None or is_remote(build.context):
        return None
    return build


def _dockerfile(build: Build) -> str | None:
    if build.dockerfile is None:
        return None  # dockerfile_inline: written in the Compose file
    return os.path.normpath(os.path.join(build.context, build.dockerfile))


def _within(path: str, folder: str, sep: str = os.sep) -> bool:
    """Whether ``path`` is strictly below ``folder``."""
    return path != folder and path.startswith(folder.rstrip(sep) + sep)


def _relative(path: str, folder: str) -> str:
    return os.path.relpath(path, folder).replace(os.sep, "/")


def initial_plans(project: Project) -> dict[str, ServicePlan]:
    """Per service, what its ``initial_sync`` rules sync (and run, and restart) at start."""
    plans: dict[str, ServicePlan] = {}
    for name in sorted(project.services):
        service = project.services[name]
        if service.develop is None:
            continue
        build = _local_build(service)
        context = _BuildContext.of(build) if build is not None else None
        plan = ServicePlan(name)
        ops = set()
        for rule in service.develop.watch:
            if not true(rule.extra.get("initial_sync")) or rule.action not in SYNC_ACTIONS \
                    or rule.target is None:
                continue
            chosen = _RuleFilter.of(rule)
            files = [p for p in _files(rule.path) if chosen.matches(p)
                     and (context is None or not context.excludes(p))]
            rule_ops = {op for p in files if (op := _sync_op(rule, rule.target, p))}
            ops.update(rule_ops)
            command = exec_command(rule)
            if rule.action == "sync+exec" and command is not None \
                    and command not in plan.exec_commands:
                plan.exec_commands.append(command)
            if rule.action == "sync+restart" and rule_ops \
                    and not builds_from(service, [op.host_path for op in rule_ops]):
                plan.restart = True
            plan.changed.extend(sorted(files))
        plan.syncs = _collapse(ops)
        if plan.has_work():
            plans[name] = plan
    return plans


def _files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    out: list[str] = []
    for folder, dirs, names in os.walk(path):
        dirs.sort()
        out.extend(os.path.join(folder, n) for n in sorted(names))
    return out
