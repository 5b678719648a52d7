"""CronJob schedules: next times, macros, time zones, missed runs, deadlines, Job names."""

from __future__ import annotations

import datetime as dt

import pytest

from kompy.cluster.controllers.cronschedule import (
    ScheduleError,
    earliest_time,
    job_name,
    most_recent,
    next_wake,
    parse_rfc3339,
    parse_schedule,
    rfc1123z,
    rfc3339,
)

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def nexts(expression: str, start: str, n: int = 3, zone: str | None = None) -> list[str]:
    schedule = parse_schedule(expression, zone)
    t, out = at(start), []
    for _ in range(n):
        t = schedule.next_after(t)
        out.append(t.strftime("%Y-%m-%d %H:%M"))
    return out


def test_standard_fields_steps_ranges_lists_and_names() -> None:
    assert nexts("*/15 * * * *", "2026-01-01 12:07") == [
        "2026-01-01 12:15", "2026-01-01 12:30", "2026-01-01 12:45"]
    # 2026-01-02 is a Friday: the next weekday mornings skip the weekend.
    assert nexts("0 9 * * MON-FRI", "2026-01-02 10:00") == [
        "2026-01-05 09:00", "2026-01-06 09:00", "2026-01-07 09:00"]
    assert nexts("5,35 8-9 1 jan,JUL ?", "2026-01-01 00:00", 5) == [
        "2026-01-01 08:05", "2026-01-01 08:35", "2026-01-01 09:05", "2026-01-01 09:35",
        "2026-07-01 08:05"]


def test_next_is_strictly_after_a_matching_time() -> None:
    assert nexts("* * * * *", "2026-01-01 12:00:00", 1) == ["2026-01-01 12:01"]
    assert nexts("* * * * *", "2026-01-01 12:00:59", 1) == ["2026-01-01 12:01"]


def test_day_of_month_or_day_of_week_as_cron() -> None:
    # Both restricted: either matches (2026-01-05 is a Monday, the 15th a Thursday).
    assert nexts("0 0 15 * MON", "2026-01-06 00:00", 2) == ["2026-01-12 00:00",
                                                            "2026-01-15 00:00"]


@pytest.mark.parametrize(("macro", "expected"), [
    ("@yearly", "2027-01-01 00:00"), ("@annually", "2027-01-01 00:00"),
    ("@monthly", "2026-04-01 00:00"), ("@weekly", "2026-03-15 00:00"),  # a Sunday
    ("@daily", "2026-03-11 00:00"), ("@midnight", "2026-03-11 00:00"),
    ("@hourly", "2026-03-10 13:00"),
])
def test_macros(macro: str, expected: str) -> None:
    assert nexts(macro, "2026-03-10 12:34", 1) == [expected]


@pytest.mark.parametrize("bad", [
    "", "* * * *", "0 * * * * *", "0 0 L * *", "0 0 * * 1#2", "H * * * *", "0 0 15W * *",
    "@every 1h", "@reboot", "61 * * * *", "* * * * MONDAY", "a b c d e",
])
def test_unparseable_schedules(bad: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(bad)
    assert caught.value.reason == "UnparseableSchedule", caught.value.message


def test_unparseable_messages_as_upstream_events() -> None:
    with pytest.raises(ScheduleError, match='^unparseable schedule: "0 [*] [*] [*] [*] [*]" : '
                       "expected exactly 5 fields, found 6$"):
        parse_schedule("0 * * * * *")
    with pytest.raises(ScheduleError, match="unsupported field 'L'$"):
        parse_schedule("0 0 L * *")
    with pytest.raises(ScheduleError, match="a value is out of range$"):
        parse_schedule("61 * * * *")


def test_a_date_that_never_comes_is_an_invalid_schedule() -> None:
    schedule = parse_schedule("0 0 31 2 *")  # parses, but February has no 31st
    with pytest.raises(ScheduleError, match="invalid schedule") as caught:
        schedule.next_after(at("2026-01-01 00:00"))
    assert caught.value.reason == "InvalidSchedule"


def test_time_zones() -> None:
    # 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    assert nexts("0 9 * * *", "2026-01-10 00:00", 1, "Europe/Berlin") == ["2026-01-10 08:00"]
    assert nexts("0 9 * * *", "2026-07-10 00:00", 1, "Europe/Berlin") == ["2026-07-10 07:00"]
    assert nexts("0 9 * * *", "2026-01-10 00:00", 1) == ["2026-01-10 09:00"]  # default UTC
    # A TZ= prefix is honoured as upstream (and wins over timeZone).
    assert nexts("TZ=Asia/Tokyo 0 9 * * *", "2026-01-10 00:00", 1, "Europe/Berlin") == [
        "2026-01-11 00:00"]
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("0 9 * * *", "Mars/Olympus_Mons")
    assert caught.value.reason == "UnknownTimeZone"
    assert caught.value.message == ('invalid timeZone: "Mars/Olympus_Mons": unknown time zone '
                                    "Mars/Olympus_Mons")


def test_daylight_saving_changes_keep_times_moving_forward() -> None:
    # New York falls back on 2026-11-01: 01:00 local happens twice, an hour apart, and an
    # hourly schedule runs at both, as the wall clock shows 01:00 twice.
    assert nexts("0 * * * *", "2026-11-01 04:30", 3, "America/New_York") == [
        "2026-11-01 05:00", "2026-11-01 06:00", "2026-11-01 07:00"]
    schedule = parse_schedule("30 2 * * *", "America/New_York")  # 02:30 is skipped on 03-08
    t = at("2026-03-07 00:00")
    for _ in range(4):
        following = schedule.next_after(t)
        assert following > t
        t = following


def test_most_recent_unmet_time() -> None:
    schedule = parse_schedule("*/5 * * * *")
    created = at("2026-01-01 12:01")
    assert most_recent(schedule, created, at("2026-01-01 12:04")) == (None, 0)
    assert most_recent(schedule, created, at("2026-01-01 12:05")) == (at("2026-01-01 12:05"), 1)
    # Missed several: only the latest is returned, with about how many were missed.
    recent, missed = most_recent(schedule, created, at("2026-01-01 12:31"))
    assert recent == at("2026-01-01 12:30") and missed == 6
    # A day of every-minute runs missed: far over upstream's 100.
    recent, missed = most_recent(parse_schedule("* * * * *"), created, at("2026-01-02 12:00:30"))
    assert recent == at("2026-01-02 12:00") and missed > 100


def test_most_recent_of_an_irregular_schedule() -> None:
    # Upstream's arithmetic shortcut finds nothing here (the gap of the first two times is a
    # day, the next one a month); the latest time at or before now is 01-02.
    schedule = parse_schedule("0 0 1,2 * *")
    assert most_recent(schedule, at("2025-12-31 12:00"), at("2026-01-31 00:00"))[0] == at(
        "2026-01-02 00:00")


def test_starting_deadline_limits_how_far_back_to_look() -> None:
    created = at("2026-01-01 12:00")
    now = at("2026-01-01 12:10:30")
    assert earliest_time(created, None, now, None) == created
    assert earliest_time(created, at("2026-01-01 12:05"), now, None) == at("2026-01-01 12:05")
    assert earliest_time(created, at("2026-01-01 12:05"), now, 60) == at("2026-01-01 12:09:30")
    schedule = parse_schedule("*/10 * * * *")
    # The 12:10 run is 30 s late: within a 60 s deadline, not within a 20 s one.
    assert most_recent(schedule, earliest_time(created, None, now, 60), now)[0] == at(
        "2026-01-01 12:10")
    assert most_recent(schedule, earliest_time(created, None, now, 20), now)[0] is None


def test_next_wake_is_the_next_start_time_plus_a_margin() -> None:
    schedule = parse_schedule("*/10 * * * *")
    margin = dt.timedelta(milliseconds=100)
    assert next_wake(schedule, at("2026-01-01 12:00"), at("2026-01-01 12:13")) == at(
        "2026-01-01 12:20") + margin
    # A last schedule time ahead of the clock (skew): wait for the time after it.
    assert next_wake(schedule, at("2026-01-01 12:30"), at("2026-01-01 12:13")) == at(
        "2026-01-01 12:40") + margin


def test_job_names_count_minutes_since_the_epoch() -> None:
    assert job_name("backup", at("1970-01-01 01:00")) == "backup-60"
    assert job_name("backup", at("2026-01-01 00:00")) == "backup-29453760"
    # The same scheduled time in another zone is the same instant, the same name.
    berlin = at("2026-01-01 00:00").astimezone(parse_schedule("* * * * *", "Europe/Berlin").zone)
    assert job_name("backup", berlin) == "backup-29453760"


def test_time_formats() -> None:
    zone = parse_schedule("* * * * *", "Europe/Berlin").zone
    assert rfc3339(at("2026-01-05 08:00")) == "2026-01-05T08:00:00Z"
    assert rfc3339(at("2026-01-05 08:00").astimezone(zone)) == "2026-01-05T09:00:00+01:00"
    assert rfc1123z(at("2026-01-05 08:00")) == "Mon, 05 Jan 2026 08:00:00 +0000"
    assert parse_rfc3339("2026-01-05T09:00:00+01:00") == at("2026-01-05 08:00")
    assert parse_rfc3339("2026-01-05T08:00:00Z") == at("2026-01-05 08:00")
    assert parse_rfc3339("yesterday") is None and parse_rfc3339(None) is None
