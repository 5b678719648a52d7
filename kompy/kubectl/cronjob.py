"""``kubectl create job NAME --from=cronjob/CRONJOB``: run a CronJob now, through the API.

As kubectl's ``createJobFromCronJob``: the Job is the CronJob's ``jobTemplate`` with its labels
and annotations, the annotation ``cronjob.kubernetes.io/instantiate: manual``, and the CronJob
as its controlling owner (so deleting the CronJob deletes the Job, and the CronJob controller
reports it rather than adopting it).
"""

from __future__ import annotations

from collections.abc import Callable

from kompy.client import KubeClient
from kompy.client.objects import Obj, copy_json, owner_ref, random_suffix

INSTANTIATE = "cronjob.kubernetes.io/instantiate"
Out = Callable[[str], None]
# A Job's name goes into its pods' job-name label: at most 63 characters.
MAX_NAME = 63


def manual_job_name(cronjob: str) -> str:
    """``CRONJOB-manual-xxxxx``, as the Kubernetes Dashboard names a triggered run."""
    suffix = f"-manual-{random_suffix()}"
    return cronjob[: MAX_NAME - len(suffix)] + suffix


def job_from_cronjob(cronjob: Obj, job_name: str) -> Obj:
    template = copy_json((cronjob.get("spec") or {}).get("jobTemplate") or {})
    meta = template.get("metadata") or {}
    annotations = {**(meta.get("annotations") or {}), INSTANTIATE: "manual"}
    cj_meta = cronjob.get("metadata") or {}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name, "namespace": cj_meta.get("namespace"),
                     "labels": dict(meta.get("labels") or {}), "annotations": annotations,
                     "ownerReferences": [owner_ref(
                         {**cronjob, "apiVersion": "batch/v1", "kind": "CronJob"})]},
        "spec": template.get("spec") or {},
    }


def create_job_from_cronjob(client: KubeClient, cronjob: str, namespace: str | None,
                            job_name: str | None, out: Out) -> int:
    source = client.get("cronjobs", cronjob, namespace)
    job = client.create(job_from_cronjob(source, job_name or manual_job_name(cronjob)))
    out(f"job.batch/{job['metadata']['name']} created\n")
    return 0
