"""The HPA's arithmetic against upstream's rules: tolerance, missing and unready pods,
stabilization windows and scaling policies (pure functions, explicit clocks)."""

from __future__ import annotations

import pytest

from kompy.cluster.controllers import hpa_behavior as b
from kompy.cluster.controllers.hpa_replicas import (
    CPU_INITIALIZATION_PERIOD,
    MetricError,
    PodMetric,
    PodState,
    average_value_replicas,
    utilization_replicas,
)

NOW = 1_000_000.0
OLD = NOW - CPU_INITIALIZATION_PERIOD - 60   # started long ago: past the CPU init period


def pod(name: str, request: int | None = 100, phase: str = "Running", ready: bool = True,
        started: float = OLD, deleting: bool = False) -> PodState:
    return PodState(name, phase, deleting, ready, started, started, request,
                    "" if request is not None else "app")


def metric(value: int) -> PodMetric:
    return PodMetric(value, NOW, 15.0)


def test_ratio_times_ready_pods_rounded_up() -> None:
    pods = [pod("a"), pod("b")]
    # 150% and 130% of a 100m request against 50%: ratio 2.8 -> ceil(2.8 * 2) = 6
    found = utilization_replicas(2, 50, pods, {"a": metric(150), "b": metric(130)}, "cpu", NOW)
    assert (found.replicas, found.utilization, found.average) == (6, 140, 140)


@pytest.mark.parametrize("usage, expected", [(54, 1), (46, 1), (55, 2), (56, 2), (44, 1)])
def test_within_the_tolerance_nothing_changes(usage: int, expected: int) -> None:
    # target 50%: 54% is ratio 1.08 (within 0.1: stays at 1); 56% is 1.12 -> ceil(1.12) = 2.
    # 55% is 1.1 in float64 arithmetic, 1.1000000000000000888: just out, as upstream's Go.
    # 44% (0.88) is out downwards, but ceil(0.88 * 1) is 1 anyway.
    found = utilization_replicas(1, 50, [pod("a")], {"a": metric(usage)}, "cpu", NOW)
    assert found.replicas == expected


def test_scale_down_counts_missing_pods_at_their_full_request() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    # a and b at 10% of target 50 (ratio 0.2); c has no metric: counted at 100% -> ratio
    # (10+10+100)/300*100=40% -> 0.8 -> ceil(0.8 * 3) = 3: no scale-down past a blind spot.
    found = utilization_replicas(3, 50, pods, {"a": metric(10), "b": metric(10)}, "cpu", NOW)
    assert found.replicas == 3


def test_scale_up_counts_unready_pods_at_zero() -> None:
    pods = [pod("a"), pod("b", ready=False, started=NOW - 10)]
    # a at 200% of target 100 (ratio 2); b unready: at 0 the ratio is 1.0 -> within: stay.
    found = utilization_replicas(2, 100, pods, {"a": metric(200), "b": metric(200)}, "cpu",
                                 NOW)
    assert found.replicas == 2
    pods = [pod("a"), pod("b", phase="Pending")]
    found = utilization_replicas(2, 50, pods, {"a": metric(200)}, "cpu", NOW)
    assert found.replicas == 4     # (200 + 0) / 200 -> 200% / 50% = 4 -> ceil(4 * 2 / 2)...


def test_deleting_and_failed_pods_are_ignored() -> None:
    pods = [pod("a"), pod("gone", deleting=True), pod("dead", phase="Failed")]
    found = utilization_replicas(3, 50, pods, {"a": metric(100), "gone": metric(900),
                                               "dead": metric(900)}, "cpu", NOW)
    assert found.replicas == 2


def test_a_pod_without_a_request_is_an_error() -> None:
    with pytest.raises(MetricError, match="missing request for cpu in container app of Pod a"):
        utilization_replicas(1, 50, [pod("a", request=None)], {"a": metric(10)}, "cpu", NOW)


def test_no_metrics_for_the_pods_is_an_error() -> None:
    with pytest.raises(MetricError, match="did not receive metrics"):
        utilization_replicas(1, 50, [pod("a", phase="Pending")], {"a": metric(10)}, "cpu",
                             NOW)


def test_average_value_target() -> None:
    pods = [pod("a"), pod("b")]
    # 300m and 100m average 200m against a 100m target: ratio 2 -> 4
    found = average_value_replicas(2, 100, pods, {"a": metric(300), "b": metric(100)},
                                   "cpu", NOW)
    assert (found.replicas, found.average, found.utilization) == (4, 200, None)


def test_memory_is_not_held_back_by_readiness() -> None:
    young = pod("a", ready=False, started=NOW - 5)
    found = average_value_replicas(1, 100_000, [young], {"a": metric(300_000)}, "memory",
                                   NOW)
    assert found.replicas == 3


# -- behavior ---------------------------------------------------------------------------------

def test_defaults_of_behavior() -> None:
    assert b.rules(None, "scaleDown").window == 300
    assert b.rules({"scaleDown": {"stabilizationWindowSeconds": 5}}, "scaleDown").window == 5
    up = b.rules({"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                              "selectPolicy": "Min"}}, "scaleUp")
    assert up == b.Rules(0, "Min", (b.Policy("Pods", 1, 60),))


def test_scale_down_waits_for_the_highest_recommendation_of_the_window() -> None:
    history = b.History([(5, NOW - 100)])
    up, down = b.rules(None, "scaleUp"), b.rules(None, "scaleDown")
    stable = b.stabilize(history, up, down, current=5, desired=1, now=NOW)
    assert (stable.replicas, stable.reason) == (5, "ScaleDownStabilized")
    # Once the window has passed, the low recommendations win.
    later = b.stabilize(history, up, down, current=5, desired=1, now=NOW + 301)
    assert later.replicas == 1


def test_a_scale_up_window_takes_the_lowest_recommendation() -> None:
    history = b.History([(2, NOW - 10)])
    up = b.rules({"scaleUp": {"stabilizationWindowSeconds": 60}}, "scaleUp")
    stable = b.stabilize(history, up, b.rules(None, "scaleDown"), 2, 6, NOW)
    assert (stable.replicas, stable.reason) == (2, "ScaleUpStabilized")


def test_policies_bound_the_rate_and_select_policy_picks() -> None:
    history = b.History()
    up = b.Rules(0, "Max", (b.Policy("Pods", 4, 15), b.Policy("Percent", 100, 15)))
    limited = b.rate_limit(history, up, b.SCALE_DOWN, 1, 20, 1, 30, NOW)
    assert (limited.replicas, limited.reason) == (5, "ScaleUpLimit")   # max(1+4, 1*2)
    smallest = b.Rules(0, "Min", up.policies)
    assert b.rate_limit(history, smallest, b.SCALE_DOWN, 1, 20, 1, 30, NOW).replicas == 2
    capped = b.rate_limit(history, up, b.SCALE_DOWN, 1, 20, 1, 3, NOW)
    assert (capped.replicas, capped.reason) == (3, "TooManyReplicas")
    disabled = b.Rules(0, "Disabled", up.policies)
    assert b.rate_limit(history, disabled, b.SCALE_DOWN, 2, 20, 1, 30, NOW).replicas == 2


def test_changes_within_the_period_count_against_the_policy() -> None:
    history = b.History()
    down = b.Rules(0, "Max", (b.Policy("Pods", 1, 60),))
    history.record_scale(5, 4, NOW - 30, keep=60)
    # 4 now, 5 at the start of the period: one pod per minute is spent -> stays at 4.
    limited = b.rate_limit(history, b.SCALE_UP, down, 4, 1, 1, 10, NOW)
    assert (limited.replicas, limited.reason) == (4, "ScaleDownLimit")
    assert b.rate_limit(history, b.SCALE_UP, down, 4, 1, 1, 10, NOW + 31).replicas == 3
    percent = b.Rules(0, "Max", (b.Policy("Percent", 50, 15),))
    assert b.rate_limit(b.History(), b.SCALE_UP, percent, 5, 1, 1, 10, NOW).replicas == 2


def test_min_replicas_floor_and_legacy_limits() -> None:
    limited = b.rate_limit(b.History(), b.SCALE_UP, b.SCALE_DOWN, 4, 1, 2, 10, NOW)
    assert (limited.replicas, limited.reason) == (2, "TooFewReplicas")
    assert b.legacy_limit(1, 10, 1, 20).replicas == 4          # max(2 * 1, 4)
    assert b.legacy_limit(3, 10, 1, 20).replicas == 6          # 2 * 3
    assert b.legacy_limit(3, 3, 1, 20).reason == "DesiredWithinRange"
