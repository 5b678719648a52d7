"""Pods that will not get ready by waiting: what is wrong with them, in words, with the
crashed container's last output.

As Skaffold's status check does, a container in one of :data:`HOPELESS` states is a failure
that waiting does not cure (an image that cannot be pulled, a program that keeps crashing,
a reference to a missing ConfigMap or Secret), so ``kompy up`` stops waiting on it after a
short grace instead of running out its timeout. The messages follow Skaffold's
(``container web is waiting to start: app:1 can't be pulled``).
https://skaffold.dev/docs/status-check/
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kompy.client import KubeClient
from kompy.errors import KompyError

# Waiting reasons that waiting does not cure (the kubelet's, as Kubernetes names them).
HOPELESS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                      "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError",
                      "RunContainerError"})
PULL = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
LOG_LINES = 10
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Problem:
    """A container that will not get ready: which one, why, and its last output."""

    pod: str
    container: str
    reason: str                       # the kubelet's waiting reason
    text: str                         # in words
    crashed: bool = False             # it ran and exited: its log says why

    def key(self) -> tuple[str, str, str]:
        """The same trouble across the kubelet's changing words for it (ErrImagePull then
        ImagePullBackOff), so its grace is not restarted."""
        return self.pod, self.container, "pull" if self.reason in PULL else self.reason


def problems(pods: Iterable[dict[str, Any]], current: set[str] | None = None
             ) -> list[Problem]:
    """The hopeless containers of ``pods`` (not those being deleted; only pods named in
    ``current`` when given: an old ReplicaSet's crashing pod does not fail a rollout that
    replaces it)."""
    found: list[Problem] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        name = str(meta.get("name"))
        if meta.get("deletionTimestamp") or (current is not None and name not in current):
            continue
        status = pod.get("status") or {}
        for key in ("initContainerStatuses", "containerStatuses"):
            for container in status.get(key) or ():
                problem = _problem(name, container)
                if problem is not None:
                    found.append(problem)
    return found


def _problem(pod: str, container: dict[str, Any]) -> Problem | None:
    waiting = (container.get("state") or {}).get("waiting") or {}
    reason = str(waiting.get("reason") or "")
    if reason not in HOPELESS:
        return None
    name = str(container.get("name"))
    message = str(waiting.get("message") or "").strip()
    if reason in PULL:
        text = f"container {name} is waiting to start: {container.get('image')} can't be pulled"
        return Problem(pod, name, reason, text + (f" ({message})" if message else ""))
    if reason == "CrashLoopBackOff":
        last = (container.get("lastState") or {}).get("terminated") or {}
        restarts = int(container.get("restartCount") or 0)
        code = last.get("exitCode")
        why = f"exit code {code}" if code is not None else "it exited"
        if last.get("reason") == "OOMKilled":
            why = "killed for using too much memory (OOMKilled)"
        return Problem(pod, name, reason,
                       f"container {name} keeps crashing: {why}, restarted {restarts} "
                       f"time{'s' * (restarts != 1)}", crashed=True)
    return Problem(pod, name, reason, f"container {name} cannot start: {reason}"
                   + (f": {message}" if message else ""))


def current_pods(client: KubeClient, namespace: str, pods: Iterable[dict[str, Any]]
                 ) -> set[str]:
    """The pods of each Deployment's newest ReplicaSet (its revision is the Deployment's),
    and every pod of any other owner."""
    try:
        sets = {_name(rs): rs for rs in client.list("replicasets", namespace).get("items")
                or []}
        deployments = {_name(d): d for d in client.list("deployments", namespace).get("items")
                       or []}
    except KompyError:
        return {str((p.get("metadata") or {}).get("name")) for p in pods}
    out: set[str] = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        rs = sets.get(_owner(meta, "ReplicaSet") or "")
        dep = deployments.get(_owner(rs.get("metadata") or {}, "Deployment") or "") \
            if rs is not None else None
        if rs is not None and dep is not None and _revision(rs) != _revision(dep):
            continue
        out.add(str(meta.get("name")))
    return out


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _owner(meta: dict[str, Any], kind: str) -> str | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == kind and ref.get("controller"):
            return str(ref.get("name"))
    return None


def _revision(obj: dict[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION) or "")


def last_output(client: KubeClient, namespace: str, problem: Problem,
                lines: int = LOG_LINES) -> list[str]:
    """The crashed container's last lines, as ``kompy logs --previous`` gives them (the
    current attempt's when there is no previous one); [] when there is none."""
    if not problem.crashed:
        return []
    for previous in (True, False):
        try:
            data = b"".join(client.logs(problem.pod, namespace, problem.container,
                                        previous=previous, tail_lines=lines))
        except KompyError:
            continue
        text = data.decode(errors="replace").rstrip("\n")
        if text:
            return text.split("\n")[-lines:]
    return []
