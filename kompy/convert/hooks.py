"""Compose ``post_start`` / ``pre_stop`` hooks -> the container's ``lifecycle.postStart`` /
``lifecycle.preStop`` exec handlers.

Docker Compose (pkg/compose/hook.go) runs each hook of the list in order with ``docker exec``
(its ``user``, ``privileged``, ``working_dir`` and ``environment`` are the exec's options) and
stops at the first that fails. Kubernetes takes one handler per event, run as the container's
own user with its own privileges (https://kubernetes.io/docs/concepts/containers/
container-lifecycle-hooks/). So:

- one hook with neither ``working_dir`` nor ``environment``: its command, as is;
- several hooks, or a ``working_dir`` / ``environment``: one ``sh -c`` script that runs the
  hooks in order, each in its own subshell (``cd DIR && K=V cmd ...``) joined by ``&&``, so
  the first failure stops the rest as in Compose. That needs ``/bin/sh`` in the image: a
  warning says so;
- ``user`` and ``privileged`` cannot be expressed: a warning each, the hook kept.

The semantics differ on failure: Compose reports the failing ``post_start`` and the ``up``
fails; Kubernetes kills the container and restarts it per the pod's restartPolicy.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from kompy.convert.config import looks_secret

if TYPE_CHECKING:
    from kompy.client.objects import Obj
    from kompy.convert.context import ConvertContext
    from kompy.errors import KeyPath
    from kompy.model import Hook, Service

# Compose key -> Kubernetes lifecycle field.
HOOK_KEYS = {"post_start": "postStart", "pre_stop": "preStop"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
Step = tuple[tuple[str, ...], str | None, dict[str, str]]   # command, working_dir, env


def lifecycle(ctx: ConvertContext, service: Service, base: KeyPath) -> Obj | None:
    """The container's ``lifecycle`` from the service's hooks, or None without hooks."""
    out: Obj = {}
    for key, field in HOOK_KEYS.items():
        hooks: tuple[Hook, ...] = getattr(service, key)
        if hooks:
            path = (*base, key)
            out[field] = {"exec": {"command": _handler_command(ctx, path, hooks)}}
            ctx.mapped(path, f"lifecycle.{field}.exec")
    return out or None


def _handler_command(ctx: ConvertContext, path: KeyPath, hooks: tuple[Hook, ...]
                     ) -> list[str]:
    """One exec command that runs every hook of the list in order."""
    steps = [_step(ctx, (*path, index), hook) for index, hook in enumerate(hooks)]
    if len(steps) == 1 and steps[0][1] is None and not steps[0][2]:
        return list(steps[0][0])
    reasons = []
    if len(steps) > 1:
        reasons.append(f"{len(steps)} hooks (Kubernetes runs one handler per event)")
    if any(step[1] for step in steps):
        reasons.append("working_dir")
    if any(step[2] for step in steps):
        reasons.append("environment")
    ctx.warn(path, f"{path[-1]} runs as one `sh -c` script for {', '.join(reasons)}: "
             "the image needs /bin/sh",
             hint="with no shell in the image, use one hook without working_dir/environment")
    script = " && ".join(f"({_shell_step(*step)})" for step in steps)
    return ["sh", "-c", script]


def _step(ctx: ConvertContext, path: KeyPath, hook: Hook) -> Step:
    """(command, working_dir, environment) of one hook; what Kubernetes cannot express is
    warned about and left out."""
    if hook.user:
        ctx.dropped((*path, "user"), "a Kubernetes exec hook runs as the container's user",
                    hint="set the service's user, or switch user inside the command")
    if hook.privileged:
        ctx.dropped((*path, "privileged"),
                    "a Kubernetes exec hook runs with the container's privileges",
                    hint="set the service's privileged (securityContext) if the hook needs it")
    return hook.command, hook.working_dir, _environment(ctx, path, hook)


def _environment(ctx: ConvertContext, path: KeyPath, hook: Hook) -> dict[str, str]:
    """The hook's environment; secret-looking or unset values are dropped, with a warning:
    a command line is not a Secret."""
    out: dict[str, str] = {}
    for key, value in hook.environment.items():
        where = (*path, "environment", key)
        if value is None or not _ENV_NAME.fullmatch(key):
            ctx.dropped(where, f"hook environment variable {key} has no value or a name a "
                        "shell cannot set; left out")
        elif looks_secret(key):
            ctx.dropped(where, f"hook environment variable {key} looks secret and would be "
                        "written into the hook's command line; left out",
                        hint="give the service this variable (it goes into a Secret)")
        else:
            out[key] = value
    return out


def _shell_step(command: tuple[str, ...], working_dir: str | None, env: dict[str, str]) -> str:
    """One hook as a shell command line, every word quoted (nothing expands)."""
    assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    line = " ".join(part for part in (assignments, shlex.join(command)) if part)
    return f"cd {shlex.quote(working_dir)} && {line}" if working_dir else line
