"""Job controller: runs pods until ``completions`` of them succeeded.

``parallelism`` pods at a time (default 1); a Job fails with BackoffLimitExceeded once more
than ``backoffLimit`` (default 6) pods failed (for restartPolicy OnFailure, container
restarts count as failures, as upstream); ``activeDeadlineSeconds`` fails it with
DeadlineExceeded. https://kubernetes.io/docs/concepts/workloads/controllers/job/
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import NotFound
from kompy.client.objects import (
    Obj,
    name,
    now,
    parse_time,
    pod_ready,
    random_suffix,
    terminating,
    uid,
)
from kompy.cluster.controllers.base import PodOwnerController
from kompy.cluster.controllers.pods import owned_pods, pod_from_template


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _restarts(pod: Obj) -> int:
    return sum(int(c.get("restartCount") or 0)
               for c in (pod.get("status") or {}).get("containerStatuses") or [])


class JobController(PodOwnerController):
    name = "job"
    owner_resource = "jobs"
    owner_kind = "Job"

    def sync(self, key: Hashable) -> None:
        ns, job_name = cast(tuple[str, str], key)
        job = self.owners.get(ns, job_name)
        if job is None or terminating(job):
            return
        spec = job.get("spec") or {}
        status: dict[str, Any] = dict(job.get("status") or {})
        if finished(job):
            return
        pods = owned_pods(self.pods, job)
        completions = _count(spec.get("completions"))
        parallelism = _count(spec.get("parallelism"))
        succeeded = sum(1 for p in pods if _phase(p) == "Succeeded")
        failed = sum(1 for p in pods if _phase(p) == "Failed") + sum(
            _restarts(p) for p in pods if _phase(p) not in ("Succeeded", "Failed"))
        active = [p for p in pods if _phase(p) not in ("Succeeded", "Failed")
                  and not terminating(p)]
        status.setdefault("startTime", now())
        outcome: tuple[str, str, str] | None = None
        if succeeded >= completions:
            outcome = ("Complete", "", "")
        elif failed > int(spec.get("backoffLimit", 6)):
            outcome = ("Failed", "BackoffLimitExceeded", "Job has reached the specified "
                        "backoff limit")
        elif spec.get("activeDeadlineSeconds") is not None and time_over(
                status["startTime"], int(spec["activeDeadlineSeconds"])):
            outcome = ("Failed", "DeadlineExceeded", "Job was active longer than specified "
                        "deadline")
        if outcome is None:
            want = min(parallelism, completions - succeeded) - len(active)
            for _ in range(max(0, want)):
                pod = pod_from_template(job, "Job", "batch/v1", f"{job_name}-{random_suffix()}",
                                        {"job-name": job_name, "controller-uid": uid(job),
                                         "batch.kubernetes.io/job-name": job_name})
                created = self.client.create(pod)
                self.pods.upsert_local(created)
                active.append(created)
                self.recorder.normal(job, "SuccessfulCreate", f"Created pod: {name(created)}")
        else:
            for pod in active:  # a finished Job stops what still runs
                with contextlib.suppress(NotFound):
                    self.client.delete("pods", name(pod), ns)
            active = []
            kind, reason, message = outcome
            cond = {"type": kind, "status": "True", "lastProbeTime": now(),
                    "lastTransitionTime": now()}
            if reason:
                cond.update(reason=reason, message=message)
                self.recorder.warning(job, reason, message)
            else:
                status["completionTime"] = now()
                self.recorder.normal(job, "Completed", "Job completed")
            status["conditions"] = [*(status.get("conditions") or []), cond]
        status.update(active=len(active), succeeded=succeeded, failed=failed,
                      ready=sum(1 for p in active if pod_ready(p)))
        if status != (job.get("status") or {}):
            self.owners.upsert_local(self.client.replace_status({**job, "status": status}))
        if outcome is None and spec.get("activeDeadlineSeconds") is not None:
            self.queue.add_after(key, 5.0)


def finished(job: Obj) -> str | None:
    """"Complete" or "Failed" once the Job finished for good, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def _count(value: Any) -> int:
    return 1 if value is None else int(value)


def time_over(start: str, seconds: int) -> bool:
    import time

    began = parse_time(start)
    return began is not None and time.time() - began > seconds
