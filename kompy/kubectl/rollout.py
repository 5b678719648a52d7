"""``kompy rollout history|undo|restart|pause|resume`` (and ``status``, in rollout_status),
through the Kubernetes API, so they work on the built-in cluster and on real clusters.

A Deployment's history is its ReplicaSets: each carries the
``deployment.kubernetes.io/revision`` annotation and the pod template of that revision.
``undo`` copies a revision's template back into the Deployment, as kubectl's
DeploymentRollbacker does; the Deployment controller then finds that ReplicaSet again by its
pod-template-hash and rolls to it under the next revision number.
https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/
A StatefulSet's or DaemonSet's history is its ControllerRevisions (``revision`` and the
template in ``data``), as kubectl's StatefulSetHistoryViewer and DaemonSetHistoryViewer read
them; ``undo`` puts such a revision's template back the same way.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kompy.client import Conflict, KubeClient, resources
from kompy.client.objects import Obj
from kompy.client.revisions import controlled_by, number, template_of
from kompy.client.wellknown import BOOKKEEPING_ANNOTATIONS, HASH_LABEL, REVISION
from kompy.errors import ClusterError, UserError
from kompy.kubectl.describe_common import Writer, pod_template_block
from kompy.kubectl.rollout_status import status
from kompy.kubectl.tabwriter import tabwrite

Out = Callable[[str], None]

CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_ROLLABLE = ("Deployment", "StatefulSet", "DaemonSet")

__all__ = ["history", "pause", "restart", "resolve", "resume", "rollout_status", "undo"]


def resolve(kind: str, name: str | None, verb: str,
            kinds: tuple[str, ...] = _ROLLABLE) -> tuple[resources.Resource, str]:
    """``deploy/web`` or ``deploy web`` -> (the Deployment resource, "web")."""
    if "/" in kind:
        if name is not None:
            raise UserError("there is no need to specify a resource type as a separate "
                            "argument when passing arguments in resource/name form",
                            hint=f"kompy rollout {verb} {kind}")
        kind, name = kind.split("/", 1)
    if not name:
        raise UserError(f"name the object: kompy rollout {verb} deploy/NAME",
                        hint=f"or KIND NAME: kompy rollout {verb} deployment web")
    res = resources.lookup(kind)
    if res.kind not in kinds:
        supported = ", ".join(k.lower() + "s" for k in kinds)
        raise UserError(f"rollout {verb} does not work on {res.plural}",
                        hint=f"it works on {supported}")
    return res, name


def _ref(res: resources.Resource, name: str) -> str:
    return f"{res.qualified}/{name}"


def _revision(rs: Obj) -> int:
    """kubectl's deploymentutil.Revision: the annotation's number, 0 without one, -1 (the
    ReplicaSet is skipped) when it is not a number."""
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    if value is None:
        return 0
    try:
        return int(str(value))
    except ValueError:
        return -1


def owned_replicasets(client: KubeClient, dep: Obj) -> list[Obj]:
    """The Deployment's ReplicaSets (controller owner reference by uid), by revision."""
    meta = dep.get("metadata") or {}
    owned = [rs for rs in client.list("replicasets", meta.get("namespace"))["items"]
             if any(ref.get("controller") and ref.get("uid") == meta.get("uid")
                    for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])]
    return sorted((rs for rs in owned if _revision(rs) >= 0), key=_revision)


@dataclass(frozen=True)
class Revision:
    """One entry of a rollout's history: its number, pod template and annotations."""

    number: int
    template: Obj
    annotations: dict[str, Any]

    @property
    def change_cause(self) -> str:
        return str(self.annotations.get(CHANGE_CAUSE) or "")


def revisions(client: KubeClient, res: resources.Resource, obj: Obj) -> list[Revision]:
    """The object's history, oldest first: a Deployment's ReplicaSets, else its
    ControllerRevisions."""
    if res.kind == "Deployment":
        return [Revision(_revision(rs), (rs.get("spec") or {}).get("template") or {},
                         _annotations(rs)) for rs in owned_replicasets(client, obj)]
    listed = client.list("controllerrevisions", (obj.get("metadata") or {}).get("namespace"))
    return [Revision(number(cr), template_of(cr), _annotations(cr))
            for cr in controlled_by(listed["items"], obj)]


def _annotations(obj: Obj) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


# -- history ---------------------------------------------------------------------------------

NO_HISTORY = "No rollout history found."


def history(client: KubeClient, kind: str, name: str | None, namespace: str | None,
            revision: int, out: Out) -> int:
    """kubectl rollout history (cmd/rollout/rollout_history.go): the object's name, then its
    history viewer's text (polymorphichelpers/history.go), printed as kubectl's NamePrinter
    prints them: ``deployment.apps/web `` with the trailing space of an empty operation."""
    res, name = resolve(kind, name, "history")
    found = revisions(client, res, client.get(res.plural, name, namespace))
    text = view_history(res, name, found, revision)
    with_revision = f"with revision #{revision}" if revision > 0 else ""
    out(f"{_ref(res, name)} {with_revision}\n{text}\n")
    return 0


def view_history(res: resources.Resource, name: str, found: list[Revision],
                 revision: int) -> str:
    """A history viewer's ViewHistory: "No rollout history found." (with or without a
    revision asked for), the pod template of ``revision``, or the table of revisions."""
    by_number = {r.number: r for r in found}      # a later duplicate wins, as Go's map
    if not by_number:
        return NO_HISTORY
    if revision > 0:
        one = by_number.get(revision)
        if one is None:
            raise UserError("unable to find the specified revision",
                            hint=f"kompy rollout history {_ref(res, name)} lists them")
        template = copy.deepcopy(one.template)
        if res.kind == "Deployment" and one.change_cause:   # the Deployment viewer only
            template.setdefault("metadata", {}).setdefault("annotations", {})[
                CHANGE_CAUSE] = one.change_cause
        return pod_template_text(template)
    rows = "".join(f"{n}\t{by_number[n].change_cause or '<none>'}\n" for n in sorted(by_number))
    return tabwrite("REVISION\tCHANGE-CAUSE\n" + rows)


def pod_template_text(template: Obj) -> str:
    """kubectl's printTemplate: DescribePodTemplate written to a plain buffer, its tabs
    left as they are (no tabwriter)."""
    w = Writer()
    pod_template_block(w, template)
    return w.raw()


# -- undo ------------------------------------------------------------------------------------

def _without_hash(template: Obj) -> Obj:
    clean = copy.deepcopy(template)
    labels = (clean.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return clean


def _rollback_target(res: resources.Resource, name: str, found: list[Revision],
                     to_revision: int) -> Revision:
    """The revision ``to_revision``; 0 means the one before the newest (kubectl)."""
    if to_revision:
        one = next((r for r in found if r.number == to_revision), None)
        if one is None:
            raise UserError(f"unable to find specified revision {to_revision} in history",
                            hint=f"kompy rollout history {res.kind.lower()}/{name} lists them")
        return one
    if len(found) < 2:
        if res.kind == "Deployment":
            raise UserError(f'no rollout history found for deployment "{name}"')
        raise UserError("no last revision to roll back to")
    return found[-2]


def undo(client: KubeClient, kind: str, name: str | None, namespace: str | None,
         to_revision: int, out: Out) -> int:
    """Put a revision's pod template back into the object (a PUT with its resourceVersion,
    so a concurrent change is noticed and the undo retried on it)."""
    res, name = resolve(kind, name, "undo")
    if to_revision < 0:
        raise UserError("--to-revision must be 0 (the previous revision) or more")
    for _attempt in range(5):
        obj = client.get(res.plural, name, namespace)
        if res.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
            raise UserError("you cannot rollback a paused deployment; resume it first with "
                            f"'kompy rollout resume deployment/{name}' and try again")
        target = _rollback_target(res, name, revisions(client, res, obj), to_revision)
        template = _without_hash(target.template)
        if template == _without_hash((obj.get("spec") or {}).get("template") or {}):
            out(f"{_ref(res, name)} skipped rollback (current template already matches "
                f"revision {target.number})\n")
            return 0
        if res.kind == "Deployment":  # kubectl's DeploymentRollbacker carries annotations
            meta = obj.setdefault("metadata", {})
            own = meta.get("annotations") or {}
            annotations = {k: v for k, v in own.items() if k in BOOKKEEPING_ANNOTATIONS}
            annotations.update({k: v for k, v in target.annotations.items()
                                if k not in BOOKKEEPING_ANNOTATIONS})
            meta["annotations"] = annotations
        obj.setdefault("spec", {})["template"] = template
        try:
            client.replace(obj)
        except Conflict:
            continue
        out(f"{_ref(res, name)} rolled back\n")
        return 0
    raise ClusterError(f"{res.kind.lower()} {name!r} keeps changing; run the undo again")


# -- restart, pause, resume ------------------------------------------------------------------

def rfc3339_now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restart(client: KubeClient, kind: str, name: str | None, namespace: str | None,
            out: Out, stamp: Callable[[], str] = rfc3339_now) -> int:
    """A new pod-template annotation is a new template: the controller rolls every pod."""
    res, name = resolve(kind, name, "restart")
    obj = client.get(res.plural, name, namespace)
    if res.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
        raise UserError(f"{res.plural}.{res.group} \"{name}\" can't restart paused deployment",
                        hint=f"run kompy rollout resume deployment/{name} first")
    client.patch(res.plural, name, namespace, {
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp()}}}}})
    out(f"{_ref(res, name)} restarted\n")
    return 0


def _set_paused(client: KubeClient, kind: str, name: str | None, namespace: str | None,
                paused: bool, out: Out) -> int:
    verb = "pause" if paused else "resume"
    res, name = resolve(kind, name, verb, ("Deployment",))
    obj = client.get(res.plural, name, namespace)
    done = "paused" if paused else "resumed"
    if bool((obj.get("spec") or {}).get("paused")) == paused:
        out(f"{_ref(res, name)} already {done}\n")
        return 0
    client.patch(res.plural, name, namespace, {"spec": {"paused": paused}})
    out(f"{_ref(res, name)} {done}\n")
    return 0


def pause(client: KubeClient, kind: str, name: str | None, namespace: str | None,
          out: Out) -> int:
    """spec.paused: the controller stops rolling (template changes wait for resume)."""
    return _set_paused(client, kind, name, namespace, True, out)


def resume(client: KubeClient, kind: str, name: str | None, namespace: str | None,
           out: Out) -> int:
    return _set_paused(client, kind, name, namespace, False, out)


def rollout_status(client: KubeClient, kind: str, name: str | None, namespace: str | None, *,
                   watch: bool, timeout: float, out: Out, revision: int = 0) -> int:
    res, name = resolve(kind, name, "status")
    return status(client, res, name, namespace, watch=watch, timeout=timeout, out=out,
                  revision=revision)
