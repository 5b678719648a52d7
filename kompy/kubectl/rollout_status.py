"""``kompy rollout status``: kubectl's status viewers, driven by a watch of the one object.

Each viewer turns a Deployment, StatefulSet or DaemonSet into kubectl's message and whether
the rollout is done: the rules are :mod:`kompy.client.rollout` (kubectl's
``pkg/polymorphichelpers/rollout_status.go``, shared with ``kompy dev``'s wait), the wording
here is kubectl's, line for line.
https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_status/
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from kompy.client import Gone, KubeClient, resources, rollout
from kompy.client.objects import Obj
from kompy.client.rollout import ROLLING_UPDATE, Rule, Verdict, judge
from kompy.client.wellknown import REVISION
from kompy.errors import KompyError, UserError

Out = Callable[[str], None]


class RolloutFailed(KompyError):
    """The rollout failed or was not done in time: exit 1, as kubectl exits."""

    exit_code = 1


def message(verdict: Verdict) -> tuple[str, bool]:
    """kubectl's line for ``verdict`` and whether the rollout is done; raises as kubectl
    fails: :class:`RolloutFailed` past the progress deadline, a user error for a strategy
    kubectl cannot follow."""
    if verdict.rule is Rule.NOT_ROLLING_UPDATE:
        raise UserError(f"rollout status is only available for {ROLLING_UPDATE} strategy type",
                        hint=f"the pods of an {verdict.strategy} {verdict.kind.lower()} take "
                             "the new spec only when they are deleted")
    if verdict.rule is Rule.PROGRESS_DEADLINE_EXCEEDED:
        raise RolloutFailed(f'deployment "{verdict.name}" exceeded its progress deadline')
    line = _LINES[verdict.rule].format(v=verdict, c=verdict.counts, noun=_NOUNS[verdict.kind])
    return line + "\n", verdict.done


_NOUNS = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemon set"}
# kubectl's words for each rule ({v}: the verdict, {c}: its counts).
_LINES: dict[Rule, str] = {
    Rule.SPEC_NOT_OBSERVED: "Waiting for {noun} spec update to be observed...",
    Rule.REPLICAS_NOT_UPDATED: 'Waiting for deployment "{v.name}" rollout to finish: '
                               "{c.updated} out of {c.desired} new replicas have been "
                               "updated...",
    Rule.OLD_REPLICAS_PENDING: 'Waiting for deployment "{v.name}" rollout to finish: {c.old} '
                               "old replicas are pending termination...",
    Rule.UPDATED_NOT_AVAILABLE: 'Waiting for deployment "{v.name}" rollout to finish: '
                                "{c.available} of {c.updated} updated replicas are "
                                "available...",
    Rule.PODS_NOT_UPDATED: 'Waiting for daemon set "{v.name}" rollout to finish: {c.updated} '
                           "out of {c.desired} new pods have been updated...",
    Rule.PODS_NOT_AVAILABLE: 'Waiting for daemon set "{v.name}" rollout to finish: '
                             "{c.available} of {c.desired} updated pods are available...",
    Rule.ROLLED_OUT: '{noun} "{v.name}" successfully rolled out',
    Rule.PODS_NOT_READY: "Waiting for {c.unready} pods to be ready...",
    Rule.PARTITION_NOT_UPDATED: "Waiting for partitioned roll out to finish: {c.updated} out "
                                "of {c.target} new pods have been updated...",
    Rule.PARTITION_ROLLED_OUT: "partitioned roll out complete: {c.updated} new pods have been "
                               "updated...",
    Rule.REVISION_NOT_UPDATED: "waiting for statefulset rolling update to complete "
                               "{c.updated} pods at revision {v.update_revision}...",
    Rule.REVISION_ROLLED_OUT: "statefulset rolling update complete {c.current} pods at "
                              "revision {v.current_revision}...",
}


def viewer(kind: str) -> Callable[[Obj], tuple[str, bool]]:
    """kubectl's status viewer for ``kind``: an object to (message, done)."""
    return lambda obj: message(judge(kind, obj))


deployment_status = viewer("Deployment")
statefulset_status = viewer("StatefulSet")
daemonset_status = viewer("DaemonSet")

VIEWERS: dict[str, Callable[[Obj], tuple[str, bool]]] = {
    kind: viewer(kind) for kind in rollout.KINDS}


def pinned(viewer: Callable[[Obj], tuple[str, bool]], revision: int
           ) -> Callable[[Obj], tuple[str, bool]]:
    """``--revision N`` on a Deployment, as kubectl's DeploymentStatusViewer: before any
    rule, the Deployment's ``deployment.kubernetes.io/revision`` must be N (kubectl's
    StatefulSet and DaemonSet viewers ignore the flag)."""
    def check(obj: Obj) -> tuple[str, bool]:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        text = str(annotations.get(REVISION) or "0")
        if not text.isdigit():
            name = (obj.get("metadata") or {}).get("name")
            raise RolloutFailed(f'cannot get the revision of deployment "{name}": '
                                f'strconv.ParseInt: parsing "{text}": invalid syntax')
        if int(text) != revision:
            raise RolloutFailed(f"desired revision ({revision}) is different from the running "
                                f"revision ({int(text)})")
        return viewer(obj)
    return check


def status(client: KubeClient, res: resources.Resource, name: str, namespace: str | None, *,
           watch: bool, timeout: float, out: Out,
           clock: Callable[[], float] = time.monotonic, revision: int = 0) -> int:
    """Print the rollout's state; with ``watch``, each new state until it is done.

    Driven by a watch of this one object (field selector ``metadata.name``), started from the
    resourceVersion of the object first read, so no change is missed and nothing polls.
    ``timeout`` 0 waits for ever, as kubectl's ``--timeout=0``.
    """
    viewer = VIEWERS.get(res.kind)
    if viewer is None:
        raise UserError(f"no status viewer has been implemented for {res.kind}",
                        hint="rollout status works on deployments, statefulsets and daemonsets")
    if revision > 0 and res.kind == "Deployment":
        viewer = pinned(viewer, revision)
    deadline = clock() + timeout if timeout > 0 else math.inf
    obj = client.get(res.plural, name, namespace)
    ns = (obj.get("metadata") or {}).get("namespace") or namespace or client.namespace
    message, done = viewer(obj)
    out(message)
    if done or not watch:
        return 0
    rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    while True:
        left = deadline - clock()
        if left <= 0:
            raise RolloutFailed("timed out waiting for the condition")
        try:
            for kind, event_obj in client.watch(
                    res.plural, ns, rv or None, field_selector=f"metadata.name={name}",
                    timeout_seconds=None if math.isinf(left) else max(1, math.ceil(left))):
                rv = str((event_obj.get("metadata") or {}).get("resourceVersion") or rv)
                if kind == "DELETED":
                    raise RolloutFailed("object has been deleted")
                new_message, done = viewer(event_obj)
                if new_message != message:  # kubectl repeats a line per event; once is enough
                    out(new_message)
                    message = new_message
                if done:
                    return 0
                if clock() >= deadline:
                    raise RolloutFailed("timed out waiting for the condition")
        except Gone:
            # Our resourceVersion is older than the server's history: read the object again.
            obj = client.get(res.plural, name, namespace)
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            new_message, done = viewer(obj)
            if new_message != message:
                out(new_message)
                message = new_message
            if done:
                return 0
