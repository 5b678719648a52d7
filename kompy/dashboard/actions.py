"""What the dashboard's buttons do: each the same API calls as the CLI command of that name
(the functions of :mod:`kompy.kubectl`), so a page and a terminal cannot disagree."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kompy.client import KubeClient
from kompy.dashboard.rows import valid_name
from kompy.errors import UserError
from kompy.kubectl.commands import delete, scale
from kompy.kubectl.cronjob import create_job_from_cronjob
from kompy.kubectl.rollout import restart, undo

Form = Mapping[str, str]


@dataclass(frozen=True)
class Action:
    title: str                                   # the button's words
    run: Callable[[KubeClient, str, str, Form, Callable[[str], None]], int]


def _scale(client: KubeClient, ns: str, ref: str, form: Form, out: Callable[[str], None]
           ) -> int:
    text = str(form.get("replicas", "")).strip()
    if not text.isdigit():
        raise UserError(f"replicas must be a whole number of 0 or more, not {text!r}")
    return scale(client, ref, None, int(text), ns, out)


def _restart(client: KubeClient, ns: str, ref: str, form: Form, out: Callable[[str], None]
             ) -> int:
    return restart(client, ref, None, ns, out)


def _undo(client: KubeClient, ns: str, ref: str, form: Form, out: Callable[[str], None]) -> int:
    return undo(client, ref, None, ns, 0, out)


def _delete_pod(client: KubeClient, ns: str, ref: str, form: Form, out: Callable[[str], None]
                ) -> int:
    kind, _, name = ref.partition("/")
    if kind != "pod" or not name:
        raise UserError(f"only pods are deleted from the dashboard, not {ref!r}")
    # The page answers at once; the pod's row shows it Terminating until it is gone.
    return delete(client, "pod", (name,), (), ns, None, out, wait=False)


def _trigger(client: KubeClient, ns: str, ref: str, form: Form, out: Callable[[str], None]
             ) -> int:
    kind, _, name = ref.partition("/")
    if kind != "cronjob" or not name:
        raise UserError(f"only a CronJob can be triggered, not {ref!r}")
    return create_job_from_cronjob(client, name, ns, None, out)


ACTIONS: dict[str, Action] = {
    "scale": Action("Scale", _scale),
    "restart": Action("Restart rollout", _restart),
    "undo": Action("Undo rollout", _undo),
    "delete": Action("Delete pod", _delete_pod),
    "trigger": Action("Run now", _trigger),
}


def run_action(client: KubeClient, verb: str, ns: str, ref: str, form: Form) -> str:
    """The CLI's output line for the action, e.g. ``deployment.apps/web scaled``."""
    action = ACTIONS.get(verb)
    if action is None:
        raise UserError(f"no action {verb!r}", hint=f"one of {', '.join(sorted(ACTIONS))}")
    kind, _, name = ref.partition("/")
    if not (valid_name(ns) and kind.isalpha() and valid_name(name)):
        raise UserError(f"not an object: namespace {ns!r}, {ref!r}")
    lines: list[str] = []
    action.run(client, ns, ref, form, lines.append)
    return "".join(lines).strip()
