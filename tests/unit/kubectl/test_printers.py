from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kompy.client import tables
from kompy.kubectl import printers

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "shown"), [
    (5, "5s"), (119, "119s"), (200, "3m20s"), (300, "5m"), (1500, "25m"),
    (5 * 3600 + 600, "5h10m"), (20 * 3600, "20h"), (3 * 86400 + 4 * 3600, "3d4h"),
    (42 * 86400, "42d"),
])
def test_age_like_kubectl(seconds: int, shown: str) -> None:
    stamp = (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tables.age(stamp, NOW) == shown


def test_pod_status_columns() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p"},
           "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
           "status": {"phase": "Pending", "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}}},
               {"name": "b", "ready": False, "restartCount": 1,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    assert tables.pod_status(pod) == ("1/2", "CrashLoopBackOff", 3)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert tables.pod_status(pod)[1] == "Terminating"


def test_table_alignment_and_namespace_column() -> None:
    objs = [{"metadata": {"name": "a", "namespace": "x"}, "data": {"k": "v"}},
            {"metadata": {"name": "longer-name", "namespace": "y"}}]
    text = printers.format_table(tables.table_rows("configmaps", objs, all_namespaces=True))
    lines = text.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert lines[1].index("a") == lines[2].index("longer-name")
    assert lines[1].split()[2] == "1"


def test_render_outputs() -> None:
    objs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}}]
    assert printers.render(objs, "name", False) == "deployment.apps/w\n"
    assert printers.render(objs, "yaml", True).startswith("apiVersion: apps/v1\n")
    assert '"kind": "List"' in printers.render(objs, "json", False)


def test_job_duration_like_kubectl() -> None:
    done = {"metadata": {"name": "j", "creationTimestamp": "2026-01-02T11:00:00Z"},
            "spec": {"completions": 1},
            "status": {"succeeded": 1, "startTime": "2026-01-02T11:00:00Z",
                       "completionTime": "2026-01-02T11:03:20Z"}}
    assert tables._jobs(done, False)[:2] == ["1/1", "3m20s"]
    assert tables._jobs({"metadata": {"name": "j"}, "status": {}}, False)[1] == ""
