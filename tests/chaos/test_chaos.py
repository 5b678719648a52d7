"""A few rounds of the chaos script (tests/chaos/chaos.py) in CI: each of ``kompy apply``,
``scale``, a rollout, ``rollout undo`` and ``delete`` with the daemon killed (SIGKILL) at a
seeded random moment while it runs, then convergence within the bound: desired counts
reached, one running container per pod, no orphan containers, no pod Pending without a
reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from chaos import run  # noqa: E402
from enginekit import docker_ok  # noqa: E402

pytestmark = pytest.mark.integration

# Seconds after the restart within which the cluster must have converged. Rounds take 0.3-5 s
# on the 2-core development machine; the bound leaves room for a busy shared machine.
BOUND = 60.0


def test_the_cluster_converges_after_kill_9_during_each_operation() -> None:
    if not docker_ok():
        pytest.skip("no Docker engine")
    # The kill lands while the command runs or the pods start or stop (the command itself
    # takes about a second, most of it Python's start).
    result = run(5, seed=12, bound=BOUND, ops=["apply", "scale", "rollout", "undo", "delete"],
                 echo=False, kill_window=(0.5, 2.5))
    anomalies = [f"round {r['number']} ({r['op']} {r['detail']}, kill at {r['kill_after']} s):"
                 f" {a}" for r in result["rounds"] for a in r["anomalies"]]
    assert anomalies == []
    assert [r["op"] for r in result["rounds"]] == ["apply", "scale", "rollout", "undo", "delete"]
    assert result["summary"]["daemon_log"]["already_in_use"] == 0
