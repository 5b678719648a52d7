"""CronJob controller: starts a Job at each scheduled time, as Kubernetes' controller v2.

Each sync (pkg/controller/cronjob/cronjob_controllerv2.go) first settles the CronJob's Jobs
(finished ones leave ``status.active`` with SawCompletedJob, ``lastSuccessfulTime`` follows
the latest completion), then starts the most recent unmet scheduled time if any (honouring
``suspend``, ``startingDeadlineSeconds`` and ``concurrencyPolicy``), prunes finished Jobs
beyond the history limits, writes the status, and requeues the CronJob for its next start
time: nothing polls. A Job is named ``<cronjob>-<minutes since the epoch>`` of its scheduled
time, so a restarted daemon never starts the same run twice.
https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import time
from collections.abc import Callable, Hashable
from typing import Any, cast

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import Obj, controller_ref, meta, name, owner_ref, terminating, uid
from kompy.cluster.controllers.base import Controller
from kompy.cluster.controllers.cronschedule import (
    SCHEDULED_TIMESTAMP,
    TOO_MANY_MISSED,
    Schedule,
    ScheduleError,
    earliest_time,
    job_name,
    load_zone,
    most_recent,
    next_wake,
    parse_rfc3339,
    parse_schedule,
    rfc1123z,
    rfc3339,
)
from kompy.cluster.controllers.job import finished

Clock = Callable[[], _dt.datetime]
API_VERSION = "batch/v1"


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def job_ref(job: Obj) -> dict[str, Any]:
    """The ObjectReference kept in ``status.active``."""
    m = meta(job)
    return {"apiVersion": API_VERSION, "kind": "Job", "name": m.get("name"),
            "namespace": m.get("namespace"), "uid": m.get("uid"),
            "resourceVersion": m.get("resourceVersion")}


def job_from_template(cj: Obj, scheduled: _dt.datetime, zone: _dt.tzinfo) -> Obj:
    """The Job of one scheduled time (upstream's getJobFromTemplate2): the jobTemplate's
    labels, annotations and spec, the scheduled time as an annotation in the CronJob's zone,
    and a controller reference to the CronJob."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = {**(tmeta.get("annotations") or {}),
                   SCHEDULED_TIMESTAMP: rfc3339(scheduled.astimezone(zone))}
    return {
        "apiVersion": API_VERSION, "kind": "Job",
        "metadata": {
            "name": job_name(name(cj), scheduled), "namespace": meta(cj).get("namespace"),
            "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
            "ownerReferences": [owner_ref({"apiVersion": API_VERSION, "kind": "CronJob",
                                           "metadata": meta(cj)})],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


class CronJobController(Controller):
    name = "cronjob"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 clock: Clock = utc_now) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.clock = clock
        self.cronjobs = informers["cronjobs"]
        self.jobs = informers["jobs"]
        # The pending timed wake-up per CronJob (its start time, and the monotonic instant
        # the queue releases it): a sync triggered by a Job event does not stack another
        # timer for the same start time.
        self._wakes: dict[Hashable, tuple[_dt.datetime, float]] = {}
        self.cronjobs.add_handler(lambda obj, _deleted: self.queue.add(key_of(obj)))
        self.jobs.add_handler(self._on_job)

    def _on_job(self, job: Obj, deleted: bool) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add((str(meta(job).get("namespace") or ""), str(ref.get("name"))))

    # -- the sync -----------------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        ns, cj_name = cast(tuple[str, str], key)
        now = self.clock()
        pending = self._wakes.get(key)
        if pending is not None and (pending[0] <= now or pending[1] <= time.monotonic()):
            # This may be that wake-up: a new one is due. (Both clocks: the queue's timer is
            # monotonic, and a wall clock set back must not leave the CronJob without one.)
            del self._wakes[key]
        cached = self.cronjobs.get(ns, cj_name)
        if cached is None:
            self._wakes.pop(key, None)
            return
        cj: Obj = {**cached, "apiVersion": API_VERSION, "kind": "CronJob"}
        jobs = [j for j in self.jobs.list(ns) if (controller_ref(j) or {}).get("uid") == uid(cj)]
        status: dict[str, Any] = copy.deepcopy(cj.get("status") or {})
        cj = self._settle_jobs(cj, jobs, status)
        wake = None if terminating(cj) else self._start_due(cj, status, now)
        self._prune(cj, jobs, status)
        self._write_status(cj, status)
        if wake is not None:
            self._requeue(key, wake, now)

    def _settle_jobs(self, cj: Obj, jobs: list[Obj], status: dict[str, Any]) -> Obj:
        """Finished Jobs leave the active list; vanished ones too (MissingJob)."""
        active = list(status.get("active") or [])
        uids = {r.get("uid") for r in active}
        for job in jobs:
            done = finished(job)
            if uid(job) not in uids and done is None:
                fresh = self._fresh(cj)
                if uid(job) in {r.get("uid") for r in
                                (fresh.get("status") or {}).get("active") or []}:
                    active.append(job_ref(job))  # our cache lagged our own status write
                    uids.add(uid(job))
                    continue
                # As upstream: reported, not adopted (kubectl create job --from=cronjob/x
                # makes such Jobs; a Job we created before a crash is adopted in _create).
                self.recorder.warning(cj, "UnexpectedJob", "Saw a job that the controller did "
                                      f"not create or forgot: {name(job)}")
            elif uid(job) in uids and done is not None:
                active = [r for r in active if r.get("uid") != uid(job)]
                self.recorder.normal(cj, "SawCompletedJob",
                                     f"Saw completed job: {name(job)}, condition: {done}")
            if done == "Complete":
                completed = parse_rfc3339((job.get("status") or {}).get("completionTime"))
                last = parse_rfc3339(status.get("lastSuccessfulTime"))
                if completed is not None and (last is None or completed > last):
                    status["lastSuccessfulTime"] = rfc3339(completed)
        known = {uid(j) for j in jobs}
        for ref in list(active):
            if ref.get("uid") in known:
                continue
            try:
                found = self.client.get("jobs", str(ref.get("name")), str(ref.get("namespace")))
            except NotFound:
                found = None
            if found is None or uid(found) != ref.get("uid"):
                active.remove(ref)
                self.recorder.normal(cj, "MissingJob",
                                     f"Active job went missing: {ref.get('name')}")
        _set(status, "active", active)
        return cj

    def _fresh(self, cj: Obj) -> Obj:
        with contextlib.suppress(NotFound):
            return self.client.get("cronjobs", name(cj), str(meta(cj).get("namespace")))
        return cj

    def _start_due(self, cj: Obj, status: dict[str, Any], now: _dt.datetime
                   ) -> _dt.datetime | None:
        """Start the most recent unmet scheduled time if the spec allows; the next wake-up."""
        spec = cj.get("spec") or {}
        raw = str(spec.get("schedule") or "")
        if "TZ" in raw:
            self.recorder.warning(cj, "UnsupportedSchedule", f"CRON_TZ or TZ used in schedule "
                                  f"{raw!r} is not officially supported, see https://kubernetes"
                                  ".io/docs/concepts/workloads/controllers/cron-jobs/ for more "
                                  "details")
        try:
            # Upstream's order: the time zone, then suspend, then the schedule.
            load_zone(spec.get("timeZone"))
            if spec.get("suspend"):
                return None  # resumed by the update that clears suspend
            schedule = parse_schedule(raw, spec.get("timeZone"))
            return self._start_scheduled(cj, schedule, status, now)
        except ScheduleError as error:
            # Nothing to retry until the CronJob changes (its update requeues it).
            self.recorder.warning(cj, error.reason, error.message)
            return None

    def _start_scheduled(self, cj: Obj, schedule: Schedule, status: dict[str, Any],
                         now: _dt.datetime) -> _dt.datetime:
        spec = cj.get("spec") or {}
        created = parse_rfc3339(meta(cj).get("creationTimestamp")) or now
        last = parse_rfc3339(status.get("lastScheduleTime"))
        deadline = spec.get("startingDeadlineSeconds")
        wake = next_wake(schedule, earliest_time(created, last, now, None), now)
        due, missed = most_recent(schedule, earliest_time(
            created, last, now, None if deadline is None else int(deadline)), now)
        if missed > TOO_MANY_MISSED:
            self.recorder.warning(cj, "TooManyMissedTimes", "too many missed start times. Set "
                                  "or decrease .spec.startingDeadlineSeconds or check clock skew")
        if due is None:
            if deadline is not None:  # every unmet time is older than the deadline
                late, _ = most_recent(schedule, earliest_time(created, last, now, None), now)
                if late is not None:
                    self.recorder.warning(cj, "MissSchedule", "Missed scheduled time to start "
                                          f"a job: {rfc1123z(late)}")
            return wake
        active = list(status.get("active") or [])
        if last == due or any(r.get("name") == job_name(name(cj), due) for r in active):
            return wake  # already started
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            # A Job event requeues us when it finishes; the run then starts late if the
            # deadline allows, as upstream.
            self.recorder.normal(cj, "JobAlreadyActive", "Not starting job because prior "
                                 "execution is running and concurrency policy is Forbid")
            return wake
        if policy == "Replace":
            for ref in active:
                self._delete_job(cj, str(ref.get("name")), status)
        self._create(cj, due, schedule, status)
        return wake

    def _create(self, cj: Obj, due: _dt.datetime, schedule: Schedule,
                status: dict[str, Any]) -> None:
        wanted = job_from_template(cj, due, schedule.zone)
        try:
            job = self.client.create(wanted)
            self.recorder.normal(cj, "SuccessfulCreate", f"Created job {name(job)}")
        except Conflict as error:
            if error.reason != "AlreadyExists":
                raise
            # Created before a crash (or a lost status write): ours if it has our reference.
            job = self.client.get("jobs", name(wanted), str(meta(cj).get("namespace")))
            if (controller_ref(job) or {}).get("uid") != uid(cj):
                self.recorder.warning(cj, "FailedCreate", f"Error creating job: {error}")
                return
        self.jobs.upsert_local(job)
        if finished(job) is None:
            active = [r for r in status.get("active") or [] if r.get("uid") != uid(job)]
            status["active"] = [*active, job_ref(job)]
        status["lastScheduleTime"] = rfc3339(due.astimezone(_dt.UTC))

    def _delete_job(self, cj: Obj, job: str, status: dict[str, Any]) -> None:
        """Delete a Job (the garbage collector then removes its pods) and forget it."""
        ns = str(meta(cj).get("namespace"))
        with contextlib.suppress(NotFound):
            self.client.delete("jobs", job, ns)
        gone = self.jobs.get(ns, job)
        if gone is not None:
            self.jobs.remove_local(gone)
        self.recorder.normal(cj, "SuccessfulDelete", f"Deleted job {job}")
        _set(status, "active", [r for r in status.get("active") or [] if r.get("name") != job])

    def _prune(self, cj: Obj, jobs: list[Obj], status: dict[str, Any]) -> None:
        """Delete the oldest finished Jobs beyond successful/failedJobsHistoryLimit."""
        spec = cj.get("spec") or {}
        limits = {"Complete": spec.get("successfulJobsHistoryLimit", 3),
                  "Failed": spec.get("failedJobsHistoryLimit", 1)}
        for kind, limit in limits.items():
            if limit is None:
                continue
            done = [j for j in jobs if finished(j) == kind]
            for job in oldest_first(done)[:max(0, len(done) - int(limit))]:
                self._delete_job(cj, name(job), status)

    def _write_status(self, cj: Obj, status: dict[str, Any]) -> None:
        old = cj.get("status") or {}
        if status == old:
            return
        # A merge patch of the status alone: this controller is its only writer, so no
        # resourceVersion (and no conflict with a concurrent `kubectl apply` of the spec).
        patch = {k: status.get(k) for k in {*old, *status}}
        updated = self.client.patch("cronjobs", name(cj), str(meta(cj).get("namespace")),
                                    {"status": patch}, subresource="status")
        self.cronjobs.upsert_local(updated)

    def _requeue(self, key: Hashable, when: _dt.datetime, now: _dt.datetime) -> None:
        pending = self._wakes.get(key)
        if pending is not None and pending[0] <= when:
            return  # an earlier or equal wake-up is still ahead
        delay = (when - now).total_seconds()
        self._wakes[key] = (when, time.monotonic() + delay)
        self.queue.add_after(key, delay)


def oldest_first(jobs: list[Obj]) -> list[Obj]:
    """By ``status.startTime`` (Jobs without one last), then name (upstream's byJobStartTime)."""
    def order(job: Obj) -> tuple[bool, _dt.datetime, str]:
        started = parse_rfc3339((job.get("status") or {}).get("startTime"))
        return started is None, started or _dt.datetime.max.replace(tzinfo=_dt.UTC), name(job)
    return sorted(jobs, key=order)


def _set(status: dict[str, Any], key: str, items: list[dict[str, Any]]) -> None:
    """An empty list is left out of the status, as Kubernetes' omitempty does."""
    if items:
        status[key] = items
    else:
        status.pop(key, None)
