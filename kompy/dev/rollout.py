"""Is a workload's rollout done? ``kubectl rollout status``'s rules, for every cluster.

Deployments, StatefulSets and DaemonSets are judged exactly as kubectl's status viewers
judge them (kubectl ``pkg/polymorphichelpers/rollout_status.go``): nothing is done before
the controller has observed the newest spec (``observedGeneration``), a Deployment is done
only once every replica is updated, no old replica is left (not even one pending
termination) and every updated replica is available. Jobs (complete) and bare Pods (ready,
or succeeded), which kubectl does not roll out, are judged as ``kubectl wait`` would.
https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLLING = "RollingUpdate"


@dataclass(frozen=True)
class WorkloadStatus:
    kind: str
    name: str
    ready: int
    desired: int
    done: bool
    failed: str | None = None
    waiting: str = ""   # what the rollout waits for, in kubectl's words ("" when done)

    def text(self) -> str:
        if self.kind == "Job":
            return f"{self.name} {'completed' if self.done else 'running'}"
        counts = f"{self.name} {self.ready}/{self.desired}"
        return f"{counts} ({self.waiting})" if self.waiting and not self.done else counts


def workload_status(obj: dict[str, Any]) -> WorkloadStatus:
    kind = str(obj.get("kind"))
    judge = _JUDGES.get(kind)
    if judge is None:
        return WorkloadStatus(kind, _name(obj), 1, 1, True)
    return judge(obj, obj.get("spec") or {}, obj.get("status") or {})


def _deployment(obj: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]
                ) -> WorkloadStatus:
    name, replicas = _name(obj), spec.get("replicas")
    desired = 1 if replicas is None else int(replicas)
    ready = _int(status, "readyReplicas")

    def waiting(why: str) -> WorkloadStatus:
        return WorkloadStatus("Deployment", name, ready, desired, False, waiting=why)

    if _generation(obj) > _int(status, "observedGeneration"):
        return waiting("waiting for the spec update to be observed")
    progressing = _condition(status, "Progressing", any_status=True)
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return WorkloadStatus("Deployment", name, ready, desired, False,
                              failed=f"deployment {name!r} exceeded its progress deadline")
    updated, total = _int(status, "updatedReplicas"), _int(status, "replicas")
    available = _int(status, "availableReplicas")
    if replicas is not None and updated < int(replicas):
        return waiting(f"{updated} out of {replicas} new replicas have been updated")
    if total > updated:
        return waiting(f"{total - updated} old replicas are pending termination")
    if available < updated:
        return waiting(f"{available} of {updated} updated replicas are available")
    return WorkloadStatus("Deployment", name, ready, desired, True)


def _statefulset(obj: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]
                 ) -> WorkloadStatus:
    name, replicas = _name(obj), spec.get("replicas")
    desired = 1 if replicas is None else int(replicas)
    ready = _int(status, "readyReplicas")
    strategy = spec.get("updateStrategy") or {}

    def waiting(why: str) -> WorkloadStatus:
        return WorkloadStatus("StatefulSet", name, ready, desired, False, waiting=why)

    if (strategy.get("type") or ROLLING) != ROLLING:
        # kubectl: "rollout status is only available for RollingUpdate strategy type"
        # (reported as done): an OnDelete set is updated only as its pods are deleted.
        return WorkloadStatus("StatefulSet", name, ready, desired, True)
    observed = _int(status, "observedGeneration")
    if observed == 0 or _generation(obj) > observed:
        return waiting("waiting for the spec update to be observed")
    if replicas is not None and ready < int(replicas):
        return waiting(f"waiting for {int(replicas) - ready} pods to be ready")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, dict):
        partition = rolling.get("partition")
        updated = _int(status, "updatedReplicas")
        if replicas is not None and partition is not None and \
                updated < int(replicas) - int(partition):
            return waiting(f"{updated} out of {int(replicas) - int(partition)} new pods have "
                           "been updated")
        return WorkloadStatus("StatefulSet", name, ready, desired, True)
    if status.get("updateRevision") != status.get("currentRevision"):
        return waiting(f"rolling update to revision {status.get('updateRevision')}: "
                       f"{_int(status, 'updatedReplicas')} pods updated")
    return WorkloadStatus("StatefulSet", name, ready, desired, True)


def _daemonset(obj: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]
               ) -> WorkloadStatus:
    name = _name(obj)
    desired = _int(status, "desiredNumberScheduled")
    ready = _int(status, "numberReady")

    def waiting(why: str) -> WorkloadStatus:
        return WorkloadStatus("DaemonSet", name, ready, desired, False, waiting=why)

    if ((spec.get("updateStrategy") or {}).get("type") or ROLLING) != ROLLING:
        return WorkloadStatus("DaemonSet", name, ready, desired, True)   # as kubectl: OnDelete
    if _generation(obj) > _int(status, "observedGeneration"):
        return waiting("waiting for the spec update to be observed")
    updated, available = _int(status, "updatedNumberScheduled"), _int(status, "numberAvailable")
    if updated < desired:
        return waiting(f"{updated} out of {desired} new pods have been updated")
    if available < desired:
        return waiting(f"{available} of {desired} updated pods are available")
    return WorkloadStatus("DaemonSet", name, ready, desired, True)


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


_JUDGES = {"Deployment": _deployment, "StatefulSet": _statefulset, "DaemonSet": _daemonset,
           "Job": _job, "Pod": _pod}


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _generation(obj: dict[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def _int(status: dict[str, Any], key: str) -> int:
    return int(status.get(key) or 0)


def _condition(status: dict[str, Any], kind: str, any_status: bool = False
               ) -> dict[str, Any] | None:
    for condition in status.get("conditions") or ():
        if condition.get("type") == kind and (any_status or condition.get("status") == "True"):
            return dict(condition)
    return None
