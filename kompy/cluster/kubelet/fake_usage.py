"""The fake backend's resource use: what a test says each container uses, as CPU counters.

A test sets a container's load (millicores and working-set bytes) with
:meth:`FakeBackend.load`; readings integrate the CPU rate over wall-clock time into the
cumulative nanoseconds a cgroup's ``cpuacct.usage`` holds, so the metrics collector computes
rates exactly as it does on the real engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class FakeLoad:
    millicores: int = 0
    working_set: int = 0
    cpu_ns: float = 0.0
    since: float = 0.0

    def set(self, millicores: int, working_set: int) -> None:
        self.cpu_ns = self.reading()
        self.since = time.time()
        self.millicores, self.working_set = millicores, working_set

    def reading(self) -> float:
        """Cumulative CPU nanoseconds now."""
        if not self.since:
            return self.cpu_ns
        return self.cpu_ns + (time.time() - self.since) * self.millicores * 1e6
