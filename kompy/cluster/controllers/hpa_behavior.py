"""The HPA's damping: stabilization windows and scaling policies (``spec.behavior``).

Upstream (pkg/controller/podautoscaler/horizontal.go): every recommendation is remembered
with its time; the count applied is the *lowest* recommendation of the scale-up window and
the *highest* of the scale-down window (300 s unless set), so a short dip or spike does not
move the target. Then the policies bound the change per period: ``Pods`` adds or removes at
most N pods, ``Percent`` N% of the count at the start of the period (the changes within
``periodSeconds`` are remembered); ``selectPolicy`` ``Max`` takes the policy allowing the
biggest change, ``Min`` the smallest, ``Disabled`` none. An HPA without ``behavior`` uses the
older rules: the scale-down window, and a scale-up to at most ``max(2 * current, 4)``.
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#configurable-scaling-behavior
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DOWNSCALE_STABILIZATION = 300   # --horizontal-pod-autoscaler-downscale-stabilization


@dataclass(frozen=True)
class Policy:
    type: str       # Pods | Percent
    value: int
    period: int     # seconds


@dataclass(frozen=True)
class Rules:
    window: int
    select: str     # Max | Min | Disabled
    policies: tuple[Policy, ...]


# autoscaling/v2 defaults (SetDefaults_HorizontalPodAutoscalerBehavior)
SCALE_UP = Rules(0, "Max", (Policy("Pods", 4, 15), Policy("Percent", 100, 15)))
SCALE_DOWN = Rules(DOWNSCALE_STABILIZATION, "Max", (Policy("Percent", 100, 15),))


def rules(behavior: dict[str, Any] | None, direction: str) -> Rules:
    """The scaleUp or scaleDown rules of ``spec.behavior``, defaults filled in."""
    default = SCALE_UP if direction == "scaleUp" else SCALE_DOWN
    given = (behavior or {}).get(direction) or {}
    window = given.get("stabilizationWindowSeconds")
    policies = tuple(Policy(str(p.get("type")), int(p.get("value") or 0),
                            int(p.get("periodSeconds") or 15))
                     for p in given.get("policies") or [])
    return Rules(default.window if window is None else int(window),
                 str(given.get("selectPolicy") or default.select),
                 policies or default.policies)


@dataclass
class History:
    """One HPA's memory: timestamped recommendations and scale events."""

    recommendations: list[tuple[int, float]] = field(default_factory=list)
    up_events: list[tuple[int, float]] = field(default_factory=list)
    down_events: list[tuple[int, float]] = field(default_factory=list)

    def record_scale(self, before: int, after: int, now: float, keep: float) -> None:
        """A rescale, remembered for the policies' periods (``keep``: the longest)."""
        events = self.up_events if after > before else self.down_events
        events.append((abs(after - before), now))
        for kept in (self.up_events, self.down_events):
            kept[:] = [(n, at) for n, at in kept if at > now - keep]


@dataclass(frozen=True)
class Limited:
    replicas: int
    reason: str
    message: str


def _changed(events: list[tuple[int, float]], period: int, now: float) -> int:
    return sum(n for n, at in events if at > now - period)


def stabilize(history: History, up: Rules, down: Rules, current: int, desired: int,
              now: float) -> Limited:
    """stabilizeRecommendationWithBehaviors; records ``desired``."""
    up_cut, down_cut = now - up.window, now - down.window
    up_rec = down_rec = desired
    for replicas, at in history.recommendations:
        if at > up_cut:
            up_rec = min(up_rec, replicas)
        if at > down_cut:
            down_rec = max(down_rec, replicas)
    keep = now - max(up.window, down.window)
    history.recommendations[:] = [r for r in history.recommendations if r[1] > keep]
    history.recommendations.append((desired, now))
    recommendation = min(max(current, up_rec), down_rec)
    if desired >= current:
        return Limited(recommendation, "ScaleUpStabilized", "recent recommendations were "
                       "lower than current one, applying the lowest recent recommendation")
    return Limited(recommendation, "ScaleDownStabilized", "recent recommendations were higher "
                   "than current one, applying the highest recent recommendation")


def _period_start(history: History, current: int, period: int, now: float) -> int:
    return (current - _changed(history.up_events, period, now)
            + _changed(history.down_events, period, now))


def _policy_limit(history: History, current: int, rules: Rules, now: float, up: bool) -> int:
    """calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors: the
    furthest count the policies allow from the count at each period's start; ``Max`` picks
    the policy allowing the biggest change, ``Min`` the smallest."""
    if rules.select == "Disabled":
        return current
    proposals = []
    for policy in rules.policies:
        start = _period_start(history, current, policy.period, now)
        if policy.type == "Pods":
            proposals.append(start + policy.value if up else start - policy.value)
        elif up:   # rounded up, or a small count would never grow
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    biggest_change = max if up else min
    smallest_change = min if up else max
    return (smallest_change if rules.select == "Min" else biggest_change)(proposals)


def scale_up_limit(history: History, current: int, rules_up: Rules, now: float) -> int:
    return _policy_limit(history, current, rules_up, now, up=True)


def scale_down_limit(history: History, current: int, rules_down: Rules, now: float) -> int:
    return _policy_limit(history, current, rules_down, now, up=False)


def rate_limit(history: History, up: Rules, down: Rules, current: int, desired: int,
               lowest: int, highest: int, now: float) -> Limited:
    """convertDesiredReplicasWithBehaviorRate: bounded by the policies and min/max."""
    if desired > current:
        limit = max(scale_up_limit(history, current, up, now), current)
        if highest > limit:
            allowed, reason, message = limit, "ScaleUpLimit", (
                "the desired replica count is increasing faster than the maximum scale rate")
        else:
            allowed, reason, message = highest, "TooManyReplicas", (
                "the desired replica count is more than the maximum replica count")
        if desired > allowed:
            return Limited(allowed, reason, message)
    elif desired < current:
        limit = min(scale_down_limit(history, current, down, now), current)
        if lowest < limit:
            allowed, reason, message = limit, "ScaleDownLimit", (
                "the desired replica count is decreasing faster than the maximum scale rate")
        else:
            allowed, reason, message = lowest, "TooFewReplicas", (
                "the desired replica count is less than the minimum replica count")
        if desired < allowed:
            return Limited(allowed, reason, message)
    return Limited(desired, "DesiredWithinRange", "the desired count is within the acceptable "
                                                  "range")


def legacy_limit(current: int, desired: int, lowest: int, highest: int) -> Limited:
    """convertDesiredReplicasWithRules, for an HPA without ``behavior``."""
    scale_up_cap = max(2 * current, 4)
    if highest > scale_up_cap:
        ceiling, reason, message = scale_up_cap, "ScaleUpLimit", (
            "the desired replica count is increasing faster than the maximum scale rate")
    else:
        ceiling, reason, message = highest, "TooManyReplicas", (
            "the desired replica count is more than the maximum replica count")
    if desired < lowest:
        return Limited(lowest, "TooFewReplicas",
                       "the desired replica count is less than the minimum replica count")
    if desired > ceiling:
        return Limited(ceiling, reason, message)
    return Limited(desired, "DesiredWithinRange", "the desired count is within the acceptable "
                                                  "range")


def longest_period(up: Rules, down: Rules) -> int:
    return max(p.period for p in (*up.policies, *down.policies))
