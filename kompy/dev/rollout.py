"""Is a workload up? ``kubectl rollout status``'s verdict, in ``kompy dev``'s short form.

Deployments, StatefulSets and DaemonSets are judged by kubectl's rules
(:mod:`kompy.client.rollout`, shared with ``kompy rollout status``); this module words the
verdict for the wait's progress line (``web 1/2 (1 old replicas are pending termination)``).
Jobs (complete) and bare Pods (ready, or succeeded), which kubectl does not roll out, are
judged as ``kubectl wait`` would.

A StatefulSet or DaemonSet whose ``updateStrategy`` is ``OnDelete`` is one kubectl refuses
to follow: its controller replaces no pod, so waiting for the new spec would last until
someone deletes the old pods. The wait instead waits for the pods it has to be ready, and
the line says how many run the new spec and that the others keep the old one until they
are deleted: never "up to date" for pods that are not, never a wait for ever.
https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#update-strategies
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kompy.client.rollout import KINDS, Rule, Verdict, judge


@dataclass(frozen=True)
class WorkloadStatus:
    kind: str
    name: str
    ready: int
    desired: int
    done: bool
    failed: str | None = None
    waiting: str = ""   # what the rollout waits for, in kubectl's words ("" when done)
    note: str = ""      # what the line must say even when done (an OnDelete set's old pods)

    def text(self) -> str:
        if self.kind == "Job":
            return f"{self.name} {'completed' if self.done else 'running'}"
        counts = f"{self.name} {self.ready}/{self.desired}"
        said = [self.waiting] if self.waiting and not self.done else []
        said += [self.note] if self.note else []
        return f"{counts} ({'; '.join(said)})" if said else counts


def workload_status(obj: dict[str, Any]) -> WorkloadStatus:
    kind = str(obj.get("kind"))
    if kind in KINDS:
        return from_verdict(judge(kind, obj))
    judge_other = _JUDGES.get(kind)
    if judge_other is None:
        return WorkloadStatus(kind, _name(obj), 1, 1, True)
    return judge_other(obj, obj.get("spec") or {}, obj.get("status") or {})


def from_verdict(verdict: Verdict) -> WorkloadStatus:
    """kubectl's verdict in the wait's words."""
    counts = verdict.counts
    status = WorkloadStatus(verdict.kind, verdict.name, counts.ready, counts.desired,
                            verdict.done)
    if verdict.rule is Rule.NOT_ROLLING_UPDATE:
        return _on_delete(verdict, status)
    if verdict.rule is Rule.PROGRESS_DEADLINE_EXCEEDED:
        return replace(status, failed=f"deployment {verdict.name!r} exceeded its progress "
                                      "deadline")
    if verdict.done:
        return status
    return replace(status, waiting=_WAITING[verdict.rule].format(v=verdict, c=counts))


def _on_delete(verdict: Verdict, status: WorkloadStatus) -> WorkloadStatus:
    """An OnDelete set: up once the controller has seen its spec and its pods are ready."""
    counts = verdict.counts
    note = ""
    if counts.updated < counts.desired:
        note = (f"{verdict.strategy}: {counts.updated} of {counts.desired} pods run the new "
                "spec, the others keep the old one until they are deleted")
    if not verdict.observed:
        waiting = _WAITING[Rule.SPEC_NOT_OBSERVED]
    elif counts.ready < counts.desired:
        waiting = _WAITING[Rule.PODS_NOT_READY].format(c=counts)
    else:
        return replace(status, done=True, note=note)
    return replace(status, done=False, waiting=waiting, note=note)


# What the rollout waits for ({v}: the verdict, {c}: its counts), after kubectl's words.
_WAITING: dict[Rule, str] = {
    Rule.SPEC_NOT_OBSERVED: "waiting for the spec update to be observed",
    Rule.REPLICAS_NOT_UPDATED: "{c.updated} out of {c.desired} new replicas have been updated",
    Rule.OLD_REPLICAS_PENDING: "{c.old} old replicas are pending termination",
    Rule.UPDATED_NOT_AVAILABLE: "{c.available} of {c.updated} updated replicas are available",
    Rule.PODS_NOT_UPDATED: "{c.updated} out of {c.desired} new pods have been updated",
    Rule.PODS_NOT_AVAILABLE: "{c.available} of {c.desired} updated pods are available",
    Rule.PODS_NOT_READY: "waiting for {c.unready} pods to be ready",
    Rule.PARTITION_NOT_UPDATED: "{c.updated} out of {c.target} new pods have been updated",
    Rule.REVISION_NOT_UPDATED: "rolling update to revision {v.update_revision}: {c.updated} "
                               "pods updated",
}


def _job(obj: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]) -> WorkloadStatus:
    succeeded = _int(status, "succeeded")
    completions = int(spec.get("completions") or 1)
    failed = _condition(status, "Failed")
    return WorkloadStatus("Job", _name(obj), succeeded, completions, succeeded >= completions,
                          failed.get("message") or failed.get("reason") if failed else None)


def _pod(obj: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]) -> WorkloadStatus:
    phase = status.get("phase")
    ready = phase == "Succeeded" or _condition(status, "Ready") is not None
    return WorkloadStatus("Pod", _name(obj), int(ready), 1, ready,
                          "pod failed" if phase == "Failed" else None)


_JUDGES = {"Job": _job, "Pod": _pod}


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _int(status: dict[str, Any], key: str) -> int:
    return int(status.get(key) or 0)


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in status.get("conditions") or ():
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None
