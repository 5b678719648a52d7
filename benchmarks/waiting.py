"""Waiting on a condition in a benchmark: a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(what: str, probe: Callable[[], object], timeout: float) -> None:
    """Until ``probe()`` is true (looked at every 0.1 s); the run ends, naming ``what``,
    when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)
