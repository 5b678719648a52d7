"""What ``kompy dev`` asks the engine about a pod's container directly: whether it runs, and
when its latest run started and finished, to the fraction of a second.

The API's pod status has whole seconds (``startedAt: 2026-01-02T03:04:05Z``, as Kubernetes
writes it), which cannot tell whether a container restarted just after a request made in
the same second; Docker keeps nanoseconds. ``kompy dev`` runs on the built-in cluster only,
whose containers are on this engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kompy.engine.connection import NoSuchObject, call, shared


@dataclass(frozen=True)
class RunState:
    running: bool
    started: float | None      # POSIX time of the latest start (None: never started)
    finished: float | None     # ... of the latest finish (None: not finished)
    exit_code: int | None = None   # the latest run's, once it finished (None: unknown)


def run_state(container_id: str) -> RunState | None:
    """The container's latest run, to the fraction of a second; None when it is gone.
    ``container_id`` may carry the status' ``docker://`` prefix."""
    engine = shared(timeout=10)
    cid = container_id.removeprefix("docker://")
    try:
        data = call(f"inspect container {cid[:12]}", lambda: engine.api.inspect_container(cid))
    except NoSuchObject:
        return None
    state = data.get("State") or {}
    running = bool(state.get("Running"))
    finished = engine_time(state.get("FinishedAt"))
    code = state.get("ExitCode")
    return RunState(running, engine_time(state.get("StartedAt")), finished,
                    int(code) if not running and finished is not None and code is not None
                    else None)


def engine_time(text: str | None) -> float | None:
    """Docker's ``2026-01-02T03:04:05.123456789Z`` (``0001-...`` for never)."""
    if not text or text.startswith("0001-"):
        return None
    head, _, fraction = text.rstrip("Z").partition(".")
    try:
        when = dt.datetime.strptime(head[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    micro = int(fraction[:6].ljust(6, "0")) if fraction[:6].isdigit() else 0
    return when.timestamp() + micro / 1e6


def run_output(container_id: str, since: float | None) -> bytes | None:
    """What the container wrote since ``since`` (a POSIX time, inclusive), each line
    prefixed with Docker's RFC 3339 time, as the kubelet's log API gives it; None when the
    container is gone."""
    engine = shared(timeout=10)
    cid = container_id.removeprefix("docker://")
    try:
        data = call(f"logs of container {cid[:12]}", lambda: engine.api.logs(
            cid, stream=False, follow=False, timestamps=True,
            since=since if since and since > 0 else None))
    except NoSuchObject:
        return None
    return data if isinstance(data, bytes) else None

