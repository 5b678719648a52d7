"""Waiting on a condition in a benchmark: a deadline, never a fixed sleep."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def wait_for(what: str, probe: Callable[[], object], timeout: float) -> None:
    """Until ``probe()`` is true (looked at every 0.1 s); the run ends, naming ``what``,
    when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def fetch(url: str) -> str | None:
    """The body of GET ``url``, stripped; None while nothing answers it whole (refused,
    reset, or cut off mid-answer: a server restarting)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None


def until_served(url: str, wanted: str, timeout: float = 300.0) -> None:
    """Until GET ``url`` answers ``wanted``, asked every 20 ms (bench_dev's poll); the run
    ends, naming the URL, when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while fetch(url) != wanted:
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} never answered {wanted!r} within {timeout} s")
        time.sleep(0.02)
