"""``kompy rollout status``: kubectl's status viewers, driven by a watch of the one object.

Each viewer turns a Deployment, StatefulSet or DaemonSet into kubectl's message and whether
the rollout is done, with the same rules and wording as kubectl's
``pkg/polymorphichelpers/rollout_status.go``: nothing counts before the controller has
observed the current generation (``status.observedGeneration`` vs ``metadata.generation``),
and a Deployment whose Progressing condition has the reason ``ProgressDeadlineExceeded``
has failed.
https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_status/
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from kompy.client import Gone, KubeClient, resources
from kompy.client.objects import Obj
from kompy.errors import KompyError, UserError

Out = Callable[[str], None]


class RolloutFailed(KompyError):
    """The rollout failed or was not done in time: exit 1, as kubectl exits."""

    exit_code = 1


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _generation_seen(obj: Obj) -> bool:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    observed = _int(status.get("observedGeneration"))
    return observed > 0 and _int(meta.get("generation"), 1) <= observed


def deployment_status(dep: Obj) -> tuple[str, bool]:
    """(message, done); raises RolloutFailed once the progress deadline is exceeded."""
    name = (dep.get("metadata") or {}).get("name")
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    if not _generation_seen(dep):
        return "Waiting for deployment spec update to be observed...\n", False
    progressing: Obj = next((c for c in status.get("conditions") or []
                        if c.get("type") == "Progressing"), {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline')
    replicas = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < replicas:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of '
                f"{replicas} new replicas have been updated...\n", False)
    if total > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old '
                "replicas are pending termination...\n", False)
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} '
                "updated replicas are available...\n", False)
    return f'deployment "{name}" successfully rolled out\n', True


def statefulset_status(sts: Obj) -> tuple[str, bool]:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        raise UserError("rollout status is only available for RollingUpdate strategy type")
    if not _generation_seen(sts):
        return "Waiting for statefulset spec update to be observed...\n", False
    replicas = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    updated = _int(status.get("updatedReplicas"))
    if ready < replicas:
        return f"Waiting for {replicas - ready} pods to be ready...\n", False
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if partition is not None and updated < replicas - _int(partition):
            return ("Waiting for partitioned roll out to finish: "
                    f"{updated} out of {replicas - _int(partition)} new pods have been "
                    "updated...\n", False)
        return f"partitioned roll out complete: {updated} new pods have been updated...\n", True
    update_rev, current_rev = status.get("updateRevision"), status.get("currentRevision")
    if update_rev != current_rev:
        return (f"waiting for statefulset rolling update to complete {updated} pods at "
                f"revision {update_rev}...\n", False)
    return (f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods "
            f"at revision {current_rev}...\n", True)


def daemonset_status(ds: Obj) -> tuple[str, bool]:
    name = (ds.get("metadata") or {}).get("name")
    spec, status = ds.get("spec") or {}, ds.get("status") or {}
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        raise UserError("rollout status is only available for RollingUpdate strategy type")
    if not _generation_seen(ds):
        return "Waiting for daemon set spec update to be observed...\n", False
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    if updated < desired:
        return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of '
                f"{desired} new pods have been updated...\n", False)
    if available < desired:
        return (f'Waiting for daemon set "{name}" rollout to finish: {available} of '
                f"{desired} updated pods are available...\n", False)
    return f'daemon set "{name}" successfully rolled out\n', True


VIEWERS: dict[str, Callable[[Obj], tuple[str, bool]]] = {
    "Deployment": deployment_status,
    "StatefulSet": statefulset_status,
    "DaemonSet": daemonset_status,
}


def status(client: KubeClient, res: resources.Resource, name: str, namespace: str | None, *,
           watch: bool, timeout: float, out: Out,
           clock: Callable[[], float] = time.monotonic) -> int:
    """Print the rollout's state; with ``watch``, each new state until it is done.

    Driven by a watch of this one object (field selector ``metadata.name``), started from the
    resourceVersion of the object first read, so no change is missed and nothing polls.
    ``timeout`` 0 waits for ever, as kubectl's ``--timeout=0``.
    """
    viewer = VIEWERS.get(res.kind)
    if viewer is None:
        raise UserError(f"no status viewer has been implemented for {res.kind}",
                        hint="rollout status works on deployments, statefulsets and daemonsets")
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
