"""Taints and tolerations, as k8s.io/api/core/v1's helpers read them.

A toleration tolerates a taint when the effects agree (an empty effect tolerates every
effect), the keys agree (an empty key with ``Exists`` tolerates every key) and, for the
``Equal`` operator (the default), the values agree.
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

# The taints the node lifecycle controller puts on nodes (TaintNodesByCondition and
# TaintBasedEvictions), and that DefaultTolerationSeconds admission tolerates for 300 s.
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
DEFAULT_TOLERATION_SECONDS = 300

Taint = Mapping[str, Any]
Toleration = Mapping[str, Any]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    if not key:  # an empty key goes with Exists only
        return False
    return str(toleration.get("value") or "") == str(taint.get("value") or "")


def tolerated(taint: Taint, tolerations: Iterable[Toleration]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def node_taints(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((node.get("spec") or {}).get("taints") or [])


def pod_tolerations(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("tolerations") or [])


def untolerated(taints: Iterable[Taint], tolerations: Sequence[Toleration],
                effects: tuple[str, ...]) -> Taint | None:
    """The first taint of these effects that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None


def describe(taint: Taint) -> str:
    """``{key: value}`` as kube-scheduler's TaintToleration plugin prints a taint."""
    return "{" + f"{taint.get('key') or ''}: {taint.get('value') or ''}" + "}"


def eviction_delay(taints: Iterable[Taint], tolerations: Sequence[Toleration]) -> float | None:
    """For a node's NoExecute taints: None when the pod must go now (a taint it does not
    tolerate), else the seconds it may stay (float('inf') for ever): the smallest
    ``tolerationSeconds`` over the tolerations that tolerate the taints, as the taint
    eviction controller computes it."""
    delay = float("inf")
    for taint in taints:
        if taint.get("effect") != NO_EXECUTE:
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return None
        for t in matching:
            seconds = t.get("tolerationSeconds")
            if seconds is not None:
                delay = min(delay, max(float(seconds), 0.0))
    return delay


def default_tolerations(tolerations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The DefaultTolerationSeconds admission plugin: a pod that does not tolerate the
    not-ready and unreachable NoExecute taints gets tolerations of them for 300 s."""
    out = list(tolerations)
    for key in (NOT_READY, UNREACHABLE):
        probe = {"key": key, "effect": NO_EXECUTE}
        if not tolerated(probe, out):
            out.append({"key": key, "operator": "Exists", "effect": NO_EXECUTE,
                        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    return out
