"""The CronJob controller's syncs against a fake API and an injected clock: starting runs,
concurrency policies, deadlines, history pruning, status and events."""

from __future__ import annotations

import copy
import datetime as dt
import threading
import uuid
from collections.abc import Mapping
from typing import Any, cast

import pytest

from kompy.client import Conflict, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.cluster.controllers.cronjob import CronJobController, oldest_first

UTC = dt.UTC
NS = "default"
RESOURCES = {"Job": "jobs", "CronJob": "cronjobs"}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeApi:
    """Just enough of KubeClient: create/get/delete/patch over a dict, like the store."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.rv = 0

    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        resource = RESOURCES[obj["kind"]]
        key = (resource, obj["metadata"]["name"])
        if key in self.objects:
            raise Conflict(409, "AlreadyExists", f"{key[1]} already exists")
        stored = copy.deepcopy(obj)
        stored["metadata"].update(uid=str(uuid.uuid4()), namespace=NS,
                                  creationTimestamp=stamp(self.world.now))
        self._bump(stored)
        self.objects[key] = stored
        return copy.deepcopy(stored)

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        if (resource, name) not in self.objects:
            raise NotFound(404, "NotFound", f"{resource} {name} not found")
        return copy.deepcopy(self.objects[(resource, name)])

    def delete(self, resource: str, name: str, namespace: str | None = None) -> None:
        if self.objects.pop((resource, name), None) is None:
            raise NotFound(404, "NotFound", f"{resource} {name} not found")
        self.world.deleted.append(name)

    def patch(self, resource: str, name: str, namespace: str | None, patch: dict[str, Any],
              *, subresource: str | None = None) -> dict[str, Any]:
        assert subresource == "status" and set(patch) == {"status"}
        obj = self.objects[(resource, name)]
        status = obj.setdefault("status", {})
        for k, v in patch["status"].items():
            if v is None:
                status.pop(k, None)
            else:
                status[k] = copy.deepcopy(v)
        self._bump(obj)
        return copy.deepcopy(obj)


class Recorder(EventRecorder):
    def __init__(self) -> None:  # no poster thread: events are kept in a list
        self.events: list[tuple[str, str, str]] = []

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str,
               times: int = 1) -> None:
        assert obj.get("kind") == "CronJob" and obj.get("apiVersion") == "batch/v1"
        self.events.append((type_, reason, message))


class World:
    """A fake API, informers fed from it (as a watch would), a clock, one controller."""

    def __init__(self, now: str) -> None:
        self.now = at(now)
        self.deleted: list[str] = []
        self.api = FakeApi(self)
        self.informers = Informers(cast(Any, self.api), threading.Event())
        self.recorder = Recorder()
        self.controller = self.new_controller()

    def new_controller(self) -> CronJobController:
        """A fresh controller on the same API: a daemon restart."""
        self.informers = Informers(cast(Any, self.api), threading.Event())
        self.controller = CronJobController(cast(Any, self.api), self.informers, self.recorder,
                                            clock=lambda: self.now)
        return self.controller

    def cronjob(self, schedule: str = "* * * * *", **spec: Any) -> dict[str, Any]:
        template = {"metadata": {"labels": {"app": "backup"}, "annotations": {"team": "ops"}},
                    "spec": {"backoffLimit": 2, "template": {"spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}]}}}}
        return self.api.create({"apiVersion": "batch/v1", "kind": "CronJob",
                                "metadata": {"name": "backup", "namespace": NS},
                                "spec": {"schedule": schedule, "jobTemplate": template,
                                         **spec}})

    def sync(self, now: str | None = None) -> None:
        if now is not None:
            self.now = at(now)
        for resource in RESOURCES.values():  # the informers catch up with the API
            informer = self.informers[resource]
            for obj in informer.list():
                informer.remove_local(obj)
            for (res, _), obj in self.api.objects.items():
                if res == resource:
                    informer.upsert_local(copy.deepcopy(obj))
        self.controller.sync((NS, "backup"))

    def jobs(self) -> list[str]:
        return sorted(name for res, name in self.api.objects if res == "jobs")

    def status(self) -> dict[str, Any]:
        return dict(self.api.objects[("cronjobs", "backup")].get("status") or {})

    def active(self) -> list[str]:
        return [r["name"] for r in self.status().get("active") or []]

    def finish(self, job: str, kind: str = "Complete", started: str = "",
               completed: str = "") -> None:
        status = self.api.objects[("jobs", job)].setdefault("status", {})
        status["conditions"] = [{"type": kind, "status": "True"}]
        if started:
            status["startTime"] = stamp(at(started))
        if completed:
            status["completionTime"] = stamp(at(completed))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.recorder.events]

    def wake(self) -> dt.datetime | None:
        pending = self.controller._wakes.get((NS, "backup"))
        return pending[0] if pending else None


def minute(t: str) -> str:
    return f"backup-{int(at(t).timestamp()) // 60}"


def test_a_job_at_each_scheduled_time_with_owner_labels_and_timestamp() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob("*/5 * * * *")
    w.sync("2026-01-01 12:00:40")
    assert w.jobs() == [] and w.status() == {}
    assert w.wake() == at("2026-01-01 12:05:00.1")  # requeued for the next time, no polling
    w.sync("2026-01-01 12:05:00.2")
    assert w.jobs() == [minute("2026-01-01 12:05")]
    job = w.api.objects[("jobs", minute("2026-01-01 12:05"))]
    cj = w.api.objects[("cronjobs", "backup")]
    assert job["metadata"]["labels"] == {"app": "backup"}
    assert job["metadata"]["annotations"] == {
        "team": "ops", "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-01-01T12:05:00Z"}
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "batch/v1", "kind": "CronJob", "name": "backup",
        "uid": cj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"]["backoffLimit"] == 2
    assert w.status()["lastScheduleTime"] == "2026-01-01T12:05:00Z"
    assert w.status()["active"] == [{
        "apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
        "namespace": NS, "uid": job["metadata"]["uid"],
        "resourceVersion": job["metadata"]["resourceVersion"]}]
    assert w.recorder.events == [("Normal", "SuccessfulCreate",
                                  f"Created job {minute('2026-01-01 12:05')}")]
    assert w.wake() == at("2026-01-01 12:10:00.1")


def test_syncing_again_or_restarting_never_starts_a_run_twice() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob()
    w.sync("2026-01-01 12:01:01")
    w.sync("2026-01-01 12:01:30")
    assert w.jobs() == [minute("2026-01-01 12:01")]
    # The daemon died after creating the Job but before writing the status.
    del w.api.objects[("cronjobs", "backup")]["status"]
    w.new_controller()
    w.sync("2026-01-01 12:01:40")
    assert w.jobs() == [minute("2026-01-01 12:01")]
    assert w.reasons().count("SuccessfulCreate") == 1
    assert w.active() == [minute("2026-01-01 12:01")]  # adopted by its name
    assert w.status()["lastScheduleTime"] == "2026-01-01T12:01:00Z"


def test_completed_jobs_leave_active_and_set_last_successful_time() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob()
    w.sync("2026-01-01 12:01:00.5")
    w.finish(minute("2026-01-01 12:01"), started="2026-01-01 12:01:01",
             completed="2026-01-01 12:01:07")
    w.sync("2026-01-01 12:01:08")
    assert "active" not in w.status()
    assert w.status()["lastSuccessfulTime"] == "2026-01-01T12:01:07Z"
    assert ("Normal", "SawCompletedJob",
            f"Saw completed job: {minute('2026-01-01 12:01')}, condition: Complete"
            ) in w.recorder.events
    w.sync("2026-01-01 12:02:00.5")  # the next run, while the first stays as history
    assert w.jobs() == [minute("2026-01-01 12:01"), minute("2026-01-01 12:02")]
    w.finish(minute("2026-01-01 12:02"), "Failed", started="2026-01-01 12:02:01")
    w.sync("2026-01-01 12:02:30")
    assert w.status()["lastSuccessfulTime"] == "2026-01-01T12:01:07Z"  # failures do not count
    assert "active" not in w.status()


def test_allow_runs_concurrently() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(concurrencyPolicy="Allow")
    w.sync("2026-01-01 12:01:00.5")
    w.sync("2026-01-01 12:02:00.5")
    assert w.active() == [minute("2026-01-01 12:01"), minute("2026-01-01 12:02")]


def test_forbid_skips_while_a_run_is_active_then_starts_late() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(concurrencyPolicy="Forbid")
    w.sync("2026-01-01 12:01:00.5")
    w.sync("2026-01-01 12:02:00.5")
    assert w.jobs() == [minute("2026-01-01 12:01")]
    assert ("Normal", "JobAlreadyActive", "Not starting job because prior execution is "
            "running and concurrency policy is Forbid") in w.recorder.events
    assert w.wake() == at("2026-01-01 12:03:00.1")
    # The first run finishes (its Job event syncs us): the 12:02 run starts late, as upstream.
    w.finish(minute("2026-01-01 12:01"), completed="2026-01-01 12:02:10")
    w.sync("2026-01-01 12:02:11")
    assert w.active() == [minute("2026-01-01 12:02")]


def test_forbid_with_a_deadline_drops_the_late_run() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(concurrencyPolicy="Forbid", startingDeadlineSeconds=5)
    w.sync("2026-01-01 12:01:00.5")
    w.sync("2026-01-01 12:02:00.5")
    w.finish(minute("2026-01-01 12:01"), completed="2026-01-01 12:02:10")
    w.sync("2026-01-01 12:02:11")
    assert w.jobs() == [minute("2026-01-01 12:01")]
    assert ("Warning", "MissSchedule", "Missed scheduled time to start a job: "
            "Thu, 01 Jan 2026 12:02:00 +0000") in w.recorder.events


def test_replace_deletes_the_running_job() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(concurrencyPolicy="Replace")
    w.sync("2026-01-01 12:01:00.5")
    w.sync("2026-01-01 12:02:00.5")
    assert w.jobs() == [minute("2026-01-01 12:02")]
    assert w.active() == [minute("2026-01-01 12:02")]
    assert w.deleted == [minute("2026-01-01 12:01")]
    assert ("Normal", "SuccessfulDelete", f"Deleted job {minute('2026-01-01 12:01')}"
            ) in w.recorder.events


def test_suspend_starts_nothing_until_resumed() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(suspend=True)
    w.sync("2026-01-01 12:05:00")
    assert w.jobs() == [] and w.wake() is None
    w.api.objects[("cronjobs", "backup")]["spec"]["suspend"] = False
    w.sync("2026-01-01 12:05:30")  # the update requeues it; the 12:05 run is still due
    assert w.jobs() == [minute("2026-01-01 12:05")]


def test_missed_runs_start_only_the_latest_one() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob("*/10 * * * *")
    w.sync("2026-01-01 12:45:00")  # the daemon was down for 12:10 .. 12:40
    assert w.jobs() == [minute("2026-01-01 12:40")]
    assert "TooManyMissedTimes" not in w.reasons()


def test_missed_runs_older_than_the_deadline_are_skipped() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob("*/10 * * * *", startingDeadlineSeconds=60)
    w.sync("2026-01-01 12:45:00")
    assert w.jobs() == []
    assert ("Warning", "MissSchedule", "Missed scheduled time to start a job: "
            "Thu, 01 Jan 2026 12:40:00 +0000") in w.recorder.events
    assert w.wake() == at("2026-01-01 12:50:00.1")
    w.sync("2026-01-01 12:50:30")  # within the deadline
    assert w.jobs() == [minute("2026-01-01 12:50")]


def test_too_many_missed_times_warns_and_starts_the_latest() -> None:
    w = World("2026-01-01 00:00:30")
    w.cronjob()
    w.sync("2026-01-01 03:00:30")  # 180 minutes of every-minute runs
    assert w.jobs() == [minute("2026-01-01 03:00")]
    assert ("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
            ".spec.startingDeadlineSeconds or check clock skew") in w.recorder.events


def test_time_zone_of_the_schedule_and_the_annotation() -> None:
    w = World("2026-01-05 00:00:00")
    w.cronjob("0 9 * * *", timeZone="Europe/Berlin")
    w.sync("2026-01-05 00:00:10")
    assert w.wake() == at("2026-01-05 08:00:00.1")
    w.sync("2026-01-05 08:00:00.2")
    job = w.api.objects[("jobs", minute("2026-01-05 08:00"))]
    assert job["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2026-01-05T09:00:00+01:00"
    assert w.status()["lastScheduleTime"] == "2026-01-05T08:00:00Z"


def test_history_limits_prune_the_oldest_finished_jobs() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob()
    for m in range(1, 9):
        t = f"2026-01-01 12:{m:02d}"
        w.sync(f"{t}:00.5")
        w.finish(minute(t), "Complete" if m <= 5 else "Failed", started=f"{t}:01",
                 completed=f"{t}:05" if m <= 5 else "")
    w.sync("2026-01-01 12:08:30")
    # Defaults: 3 successful and 1 failed kept; the oldest go first.
    assert w.jobs() == [minute(f"2026-01-01 12:0{m}") for m in (3, 4, 5, 8)]
    assert sorted(w.deleted) == sorted(minute(f"2026-01-01 12:0{m}") for m in (1, 2, 6, 7))
    assert w.reasons().count("SuccessfulDelete") == 4


def test_history_limit_zero_keeps_nothing() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(successfulJobsHistoryLimit=0)
    w.sync("2026-01-01 12:01:00.5")
    w.finish(minute("2026-01-01 12:01"), completed="2026-01-01 12:01:03")
    w.sync("2026-01-01 12:01:04")
    assert w.jobs() == [] and w.status()["lastSuccessfulTime"] == "2026-01-01T12:01:03Z"


def test_oldest_first_orders_jobs_without_start_time_last() -> None:
    jobs = [{"metadata": {"name": n}, "status": {"startTime": s} if s else {}}
            for n, s in (("c", ""), ("b", "2026-01-01T12:00:00Z"),
                         ("a", "2026-01-01T12:00:00Z"), ("d", "2026-01-01T11:00:00Z"))]
    assert [j["metadata"]["name"] for j in oldest_first(jobs)] == ["d", "a", "b", "c"]


def test_an_active_job_that_vanished_is_forgotten() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob("*/10 * * * *")
    w.sync("2026-01-01 12:10:00.5")
    del w.api.objects[("jobs", minute("2026-01-01 12:10"))]  # deleted behind our back
    w.sync("2026-01-01 12:10:30")
    assert "active" not in w.status()
    assert ("Normal", "MissingJob", f"Active job went missing: {minute('2026-01-01 12:10')}"
            ) in w.recorder.events
    assert w.jobs() == []  # the 12:10 run was started once; it is not started again


def test_a_foreign_job_owned_by_the_cronjob_is_reported() -> None:
    w = World("2026-01-01 12:00:30")
    cj = w.cronjob("@daily")
    w.api.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "backup-manual", "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "CronJob", "name": "backup",
            "uid": cj["metadata"]["uid"], "controller": True}]}, "spec": {}})
    w.sync("2026-01-01 12:00:40")
    assert ("Warning", "UnexpectedJob", "Saw a job that the controller did not create or "
            "forgot: backup-manual") in w.recorder.events


@pytest.mark.parametrize(("spec", "reason"), [
    ({"schedule": "every minute"}, "UnparseableSchedule"),
    ({"timeZone": "Nowhere/Town"}, "UnknownTimeZone"),
    ({"schedule": "0 0 31 2 *"}, "InvalidSchedule"),
])
def test_a_bad_schedule_is_an_event_and_no_timer(spec: dict[str, Any], reason: str) -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob(**{"schedule": "* * * * *", **spec})
    w.sync("2026-01-01 12:05:00")
    assert w.jobs() == [] and w.wake() is None
    assert reason in w.reasons()


def test_suspend_is_checked_after_the_time_zone_and_before_the_schedule() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob("not a schedule", suspend=True)
    w.sync("2026-01-01 12:05:00")
    assert w.recorder.events == []
    w.api.objects[("cronjobs", "backup")]["spec"]["timeZone"] = "Nowhere/Town"
    w.sync("2026-01-01 12:05:10")
    assert w.reasons() == ["UnknownTimeZone"]


def test_a_tz_prefix_is_honoured_with_a_warning() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob("CRON_TZ=Asia/Tokyo 0 0 * * *")
    w.sync("2026-01-01 12:00:40")
    assert w.wake() == at("2026-01-01 15:00:00.1")  # midnight in Tokyo
    assert "UnsupportedSchedule" in w.reasons()


def test_a_terminating_cronjob_starts_nothing() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob()
    w.api.objects[("cronjobs", "backup")]["metadata"]["deletionTimestamp"] = stamp(w.now)
    w.sync("2026-01-01 12:05:00")
    assert w.jobs() == []


def test_a_deleted_cronjob_forgets_its_timer() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob()
    w.sync("2026-01-01 12:00:40")
    assert w.wake() is not None
    del w.api.objects[("cronjobs", "backup")]
    w.sync("2026-01-01 12:00:50")
    assert w.wake() is None


def test_job_events_requeue_the_owning_cronjob() -> None:
    w = World("2026-01-01 12:00:30")
    w.cronjob()
    w.sync("2026-01-01 12:01:00.5")
    job = w.api.objects[("jobs", minute("2026-01-01 12:01"))]
    queue = w.controller.queue
    w.controller._on_job(job, False)
    w.controller._on_job({"metadata": {"name": "other"}}, False)  # no owner: ignored
    assert queue.get() == (NS, "backup")
    queue.done((NS, "backup"))
    queue.shutdown()
    assert queue.get() is None
