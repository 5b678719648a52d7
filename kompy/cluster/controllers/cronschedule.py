"""CronJob schedules: parsing, time zones, the most recent unmet start time, Job names.

Pure functions over times (no clock, no I/O), ported from kube-controller-manager's
CronJob controller v2 (pkg/controller/cronjob/utils.go) so that kompy starts the same runs a
Kubernetes cluster would. https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/

croniter evaluates the expressions; this module restricts it to what Kubernetes accepts (the
five standard fields with names, ranges, steps and lists, ``?``, and the macros) and rejects
croniter's extensions (seconds/year fields, ``L``, ``W``, ``#``, ``H``), which Kubernetes'
parser (robfig/cron ``ParseStandard``) refuses.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

UTC = _dt.UTC
# The macros of the CronJob documentation ("Schedule syntax"); @every is not among them.
MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# One comma-separated item of a field: *, ?, a number or a three-letter name, an optional
# range end, an optional step.
_ITEM = r"(?:\*|\?|[0-9]+|[A-Za-z]{3})(?:-(?:[0-9]+|[A-Za-z]{3}))?(?:/[0-9]+)?"
_FIELD = re.compile(rf"^{_ITEM}(?:,{_ITEM})*$")
_TZ_PREFIX = re.compile(r"^(?:CRON_)?TZ=(\S+)\s+(.*)$")
# Kubernetes' label for "more than this many missed start times" (utils.go): an event, and
# only the most recent one is started.
TOO_MANY_MISSED = 100
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


class ScheduleError(ValueError):
    """A schedule or time zone the controller cannot use; ``reason`` is the event's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Schedule:
    expression: str  # five fields, macros expanded
    zone: _dt.tzinfo

    def next_after(self, t: _dt.datetime) -> _dt.datetime:
        """The first start time strictly after ``t`` (both aware; the answer in UTC)."""
        try:
            found = croniter(self.expression, t.astimezone(self.zone)).get_next(_dt.datetime)
        except CroniterError as error:  # e.g. "0 0 31 2 *": no such day, ever
            raise ScheduleError("InvalidSchedule", f"invalid schedule: {self.expression} : "
                                f"{error}") from error
        return _as_utc(found)

    def latest_at_or_before(self, t: _dt.datetime) -> _dt.datetime:
        """The last start time at or before ``t`` (to the second)."""
        start = t.replace(microsecond=0) + _dt.timedelta(seconds=1)
        try:
            found = croniter(self.expression, start.astimezone(self.zone)).get_prev(_dt.datetime)
        except CroniterError as error:
            raise ScheduleError("InvalidSchedule", f"invalid schedule: {self.expression} : "
                                f"{error}") from error
        return _as_utc(found)


def _as_utc(value: object) -> _dt.datetime:
    assert isinstance(value, _dt.datetime)
    return value.astimezone(UTC)


def parse_schedule(text: str, time_zone: str | None = None) -> Schedule:
    """A Schedule from ``spec.schedule`` and ``spec.timeZone`` (an IANA name; None is UTC,
    the zone of the kompy daemon acting as controller manager).

    A ``TZ=``/``CRON_TZ=`` prefix in the schedule is honoured as upstream does (and wins over
    ``timeZone``), though Kubernetes does not officially support it.
    """
    text = " ".join(str(text or "").split())
    prefix = _TZ_PREFIX.match(text)
    if prefix:
        time_zone, text = prefix.group(1), prefix.group(2)
    zone = load_zone(time_zone)
    expression = MACROS.get(text, text)
    fields = expression.split(" ") if expression else []
    if len(fields) != 5:
        raise _unparseable(text, f"expected exactly 5 fields, found {len(fields)}")
    for field in fields:
        if not _FIELD.match(field):
            raise _unparseable(text, f"unsupported field {field!r}")
    if not croniter.is_valid(expression):
        raise _unparseable(text, "a value is out of range")
    return Schedule(expression, zone)


def _unparseable(text: str, why: str) -> ScheduleError:
    # The message of upstream's UnparseableSchedule event: unparseable schedule: "x" : why
    return ScheduleError("UnparseableSchedule", f'unparseable schedule: "{text}" : {why}')


def load_zone(name: str | None) -> _dt.tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError("UnknownTimeZone",
                            f'invalid timeZone: "{name}": unknown time zone {name}') from error


def most_recent(schedule: Schedule, earliest: _dt.datetime, now: _dt.datetime
                ) -> tuple[_dt.datetime | None, int]:
    """The latest start time in (earliest, now], and about how many were missed.

    The count is upstream's approximation (the span divided by the gap between the first two
    start times), used only to warn when it passes 100. The time itself is exact: upstream's
    arithmetic shortcut can overshoot for irregular schedules such as ``0 0 1,2 * *`` and
    find nothing; croniter's ``get_prev`` cannot.
    """
    t1 = schedule.next_after(earliest)
    if now < t1:
        return None, 0
    t2 = schedule.next_after(t1)
    if now < t2:
        return t1, 1
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise ScheduleError("InvalidSchedule", "invalid schedule: time difference between two "
                            "schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    return max(t1, schedule.latest_at_or_before(now)), missed


def earliest_time(created: _dt.datetime, last_schedule: _dt.datetime | None,
                  now: _dt.datetime, deadline_seconds: int | None) -> _dt.datetime:
    """Where to look for unmet start times from: the last one started (else the CronJob's
    creation), and with ``startingDeadlineSeconds`` never further back than that deadline
    ("the controller counts how many missed jobs occurred from the value of
    startingDeadlineSeconds until now rather than from the last scheduled time")."""
    earliest = last_schedule or created
    if deadline_seconds is not None:
        earliest = max(earliest, now - _dt.timedelta(seconds=deadline_seconds))
    return earliest


def next_wake(schedule: Schedule, earliest: _dt.datetime, now: _dt.datetime) -> _dt.datetime:
    """When to look again: the next start time after now (or after ``earliest`` if that is
    later: clock skew), plus upstream's 100 ms margin against clock adjustments."""
    return schedule.next_after(max(now, earliest)) + _dt.timedelta(milliseconds=100)


def job_name(cronjob: str, scheduled: _dt.datetime) -> str:
    """``<cronjob>-<minutes since the epoch>``: one name per scheduled time, so a run is never
    started twice (a second create fails with AlreadyExists)."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def rfc3339(t: _dt.datetime) -> str:
    """As Go's time.RFC3339: ``Z`` for a zero offset, else ``+01:00``."""
    offset = t.utcoffset() or _dt.timedelta(0)
    if not offset:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = t.strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def rfc1123z(t: _dt.datetime) -> str:
    """As Go's time.RFC1123Z (upstream's MissSchedule message): Mon, 02 Jan 2006 15:04:05 -0700."""
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S %z")


def parse_rfc3339(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
