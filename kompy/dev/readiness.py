"""When is a project "up"? Waiting for its workloads' rollouts, and saying why they are not.

A workload is done as ``kubectl rollout status`` judges it (:mod:`kompy.dev.rollout`: a
Deployment once its controller has seen the newest spec, every replica is updated, no old
replica is left and every updated one is available), and once its containers have run a
moment (:data:`STABLE`). The wait wakes on changes of the namespace's pods and workloads
(:mod:`kompy.dev.changes`), fails fast on hopeless pods, and can be interrupted (a newer
change in ``kompy dev``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from kompy.client import KubeClient
from kompy.dev.changes import NamespaceChanges
from kompy.dev.diagnose import PULL, Problem, current_pods, last_output, problems
from kompy.dev.rollout import WorkloadStatus, workload_status
from kompy.errors import ClusterError, KompyError

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")
EVENTS_PER_POD = 3
# How long a pod may stay in a hopeless state before the wait fails (Skaffold fails at once;
# a few seconds let an image that is being pushed, or a first crash, sort itself out).
FAIL_FAST_GRACE = 5.0
# How long every container must have run when the workloads are ready, so that a program
# that dies at start-up is caught (it is ready for a moment) rather than reported "up".
STABLE = 1.0


def wait_ready(client: KubeClient, namespace: str, workloads: Sequence[tuple[str, str]],
               timeout: float, progress: Callable[[str], None], *,
               grace: float = FAIL_FAST_GRACE,
               interrupted: Callable[[], bool] | None = None) -> bool:
    """Wait until every ``(kind, name)`` is rolled out (:mod:`kompy.dev.rollout`: kubectl's
    rules) and its containers have run :data:`STABLE` seconds, printing progress when it
    changes; True then, False when ``interrupted()`` said to stop first (a newer change in
    ``kompy dev``, which must not wait behind this one).

    Event-driven: the state is judged again on each change of the namespace's pods and of
    the workloads' kinds (:class:`kompy.dev.changes.NamespaceChanges`), not polled.
    Fails fast, as Skaffold's status check: a current pod whose container stays in a
    hopeless state (:data:`kompy.dev.diagnose.HOPELESS`: image not pullable, crash loop,
    missing ConfigMap...) for ``grace`` seconds ends the wait with the reason and the
    container's last output, instead of waiting out ``timeout``."""
    if not workloads:  # a project of CronJobs only, say: nothing runs yet to wait for
        return True
    with NamespaceChanges(client, namespace) as changes:
        return _wait(client, namespace, workloads, timeout, progress, grace, interrupted,
                     changes)


def _wait(client: KubeClient, namespace: str, workloads: Sequence[tuple[str, str]],
          timeout: float, progress: Callable[[str], None], grace: float,
          interrupted: Callable[[], bool] | None, changes: NamespaceChanges) -> bool:
    deadline = time.monotonic() + timeout
    last = ""
    seen: dict[tuple[str, str, str], float] = {}   # problem -> when first seen
    while True:
        objects = _workloads(client, namespace, workloads, changes)
        # The pods are listed after the workloads: a workload's status must never be newer
        # than the pods it is checked against, or a stale list (a container not running yet)
        # would let a program that died at once pass for stable.
        pods = _listed(client, "pods", namespace, changes)
        statuses = _statuses(workloads, objects, pods)
        line = "ready: " + ", ".join(s.text() for s in statuses)
        if line != last:
            progress(line)
            last = line
        failed = [s for s in statuses if s.failed]
        if failed:
            raise ClusterError(
                f"{failed[0].kind.lower()} {failed[0].name} failed: {failed[0].failed}",
                hint=explain(client, namespace) or None)
        _fail_fast(client, namespace, pods, seen, grace)
        young = 0.0
        if all(s.done for s in statuses):
            young = _youngest(pods)
            if young <= 0:
                return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            waiting = ", ".join(s.text() for s in statuses if not s.done) or \
                f"the containers to run {STABLE:g} s without dying"
            raise ClusterError(
                f"timed out after {timeout:g} s waiting for {waiting}",
                hint=explain(client, namespace) or "see `kompy get events`")
        wake = min([remaining, *([young] if young > 0 else []),
                    *(t + grace - time.monotonic() for t in seen.values())])
        if interrupted is not None and interrupted():
            return False
        changes.wait(wake, interrupted)
        if interrupted is not None and interrupted():
            return False


def _listed(client: KubeClient, resource: str, namespace: str, changes: NamespaceChanges
            ) -> list[dict[str, Any]]:
    """The namespace's objects of ``resource``; their changes from now on wake the wait."""
    listing = client.list(resource, namespace)
    changes.follow(resource, str((listing.get("metadata") or {}).get("resourceVersion") or ""))
    return list(listing.get("items") or [])


def _workloads(client: KubeClient, namespace: str, workloads: Sequence[tuple[str, str]],
               changes: NamespaceChanges) -> dict[tuple[str, str], dict[str, Any]]:
    """The workloads' objects, from one list per kind (bare pods come from the pods list)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in dict.fromkeys(kind for kind, _ in workloads if kind != "Pod"):
        for obj in _listed(client, kind, namespace, changes):
            found[(kind, str((obj.get("metadata") or {}).get("name")))] = {**obj, "kind": kind}
    return found


def _statuses(workloads: Sequence[tuple[str, str]], objects: dict[tuple[str, str],
              dict[str, Any]], pods: list[dict[str, Any]]) -> list[WorkloadStatus]:
    """Each workload's status (bare pods: from ``pods``)."""
    found = dict(objects)
    for pod in pods:
        found[("Pod", str((pod.get("metadata") or {}).get("name")))] = {**pod, "kind": "Pod"}
    return [workload_status(found[(kind, name)]) if (kind, name) in found
            else WorkloadStatus(kind, name, 0, 1, False, waiting="not found")
            for kind, name in workloads]


def _youngest(pods: list[dict[str, Any]]) -> float:
    """Seconds until every running container of the running pods has run for
    :data:`STABLE` seconds (0 when they all have): ready is not enough for a program that
    dies just after it starts, which is ready for a moment (as ``minReadySeconds`` and
    ``docker compose up --wait`` see it). A container of a running pod that restarts
    whenever it ends (``restartPolicy: Always``) and does not run now makes it
    :data:`STABLE` more: it died, whatever its workload's status still says."""
    from kompy.dev.runstate import run_state

    wait = 0.0
    for pod in pods:
        status = pod.get("status") or {}
        if (pod.get("metadata") or {}).get("deletionTimestamp") or \
                status.get("phase") != "Running":
            continue
        always = (pod.get("spec") or {}).get("restartPolicy", "Always") == "Always"
        for container in status.get("containerStatuses") or ():
            cid = str(container.get("containerID") or "")
            if "running" not in (container.get("state") or {}) or not cid:
                if always:   # it died and restarts (or waits to): not stable, whatever
                    wait = max(wait, STABLE)   # a workload's older status says
                continue
            try:
                state = run_state(cid)
            except KompyError:
                continue
            if state is not None and state.started is not None:
                wait = max(wait, state.started + STABLE - time.time())
    return wait


def _fail_fast(client: KubeClient, namespace: str, pods: list[dict[str, Any]],
               seen: dict[tuple[str, str, str], float], grace: float) -> None:
    """Raise once a problem has lasted ``grace`` seconds (forget those that cleared)."""
    now = time.monotonic()
    # Which pods are current (two lists) is asked only when some pod is in trouble: the
    # wait judges again on every change, and most of them are none.
    found = problems(pods)
    if found:
        found = problems(pods, current_pods(client, namespace, pods))
    keys = {p.key() for p in found}
    for key in [k for k in seen if k not in keys]:
        del seen[key]
    for problem in found:
        since = seen.setdefault(problem.key(), now)
        if now - since >= grace:
            raise failure(client, namespace, problem, len(found))


def failure(client: KubeClient, namespace: str, problem: Problem, count: int = 1
            ) -> ClusterError:
    """The error that ends a wait on ``problem``: what is wrong, and the container's last
    output (as ``kompy logs --previous`` shows it) in the hint."""
    others = f" (and {count - 1} more)" if count > 1 else ""
    output = last_output(client, namespace, problem)
    if output:
        hint = (f"its last output (kompy logs {problem.pod} -c {problem.container} "
                f"--previous -n {namespace}):\n" + "\n".join(f"    {line}" for line in output))
    elif problem.reason in PULL:
        hint = ("check the image name and tag; services with `build:` are built by kompy, "
                "other images must be on the Docker engine or in a registry it can reach")
    else:
        hint = f"see `kompy describe pod {problem.pod} -n {namespace}`"
    return ClusterError(f"pod/{problem.pod}: {problem.text}{others}", hint=hint)


def explain(client: KubeClient, namespace: str) -> str:
    """Why pods are not ready: their state, waiting reasons and their last events."""
    pods = client.list("pods", namespace).get("items") or []
    try:
        events = client.list("events", namespace).get("items") or []
    except KompyError:
        events = []  # a cluster without events still has pod statuses to show
    lines: list[str] = []
    for pod in pods:
        if workload_status({**pod, "kind": "Pod"}).done:
            continue
        name = str((pod.get("metadata") or {}).get("name"))
        status = pod.get("status") or {}
        lines.append(f"pod {name}: {status.get('phase') or 'Pending'}")
        lines.extend(f"  {text}" for text in _pod_reasons(status))
        mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
        for event in mine[-EVENTS_PER_POD:]:
            lines.append(f"  event {event.get('type', 'Normal')} {event.get('reason', '')}: "
                         f"{event.get('message', '')}".rstrip())
    return "\n".join(lines)


def _pod_reasons(status: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for condition in status.get("conditions") or ():
        if condition.get("status") == "False" and condition.get("message"):
            out.append(f"{condition.get('type')}: {condition.get('message')}")
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or ():
            text = _container_reason(container)
            if text:
                out.append(text)
    return out


def _container_reason(container: dict[str, Any]) -> str | None:
    name = container.get("name")
    state = container.get("state") or {}
    restarts = int(container.get("restartCount") or 0)
    suffix = f" (restarted {restarts} times)" if restarts else ""
    if "waiting" in state:
        waiting = state["waiting"] or {}
        message = f": {waiting['message']}" if waiting.get("message") else ""
        last = ((container.get("lastState") or {}).get("terminated") or {})
        if last:
            suffix += f"; last exit code {last.get('exitCode')}"
        return f"container {name} waiting: {waiting.get('reason', '')}{message}{suffix}"
    if "terminated" in state:
        term = state["terminated"] or {}
        if term.get("exitCode") == 0:
            return None  # a finished init container, or a completed job's pod
        return (f"container {name} terminated: {term.get('reason', '')} exit code "
                f"{term.get('exitCode')}{suffix}")
    if not container.get("ready"):
        return f"container {name} running but not ready (readiness probe){suffix}"
    return None
