"""The pure arithmetic of Deployment rollouts, as pkg/controller/deployment does it.

https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment
maxSurge rounds up and maxUnavailable rounds down when given as percentages; when both
resolve to 0, maxUnavailable becomes 1 so that a rollout can progress.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from kompy.client.wellknown import HASH_LABEL

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString: ``3`` -> 3, ``"25%"`` of 10 -> 3 (up) or 2 (down)."""
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        exact = int(text[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def fenceposts(strategy: dict[str, Any], replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers of pods."""
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge"), replicas, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """A stable short hash of a pod template (its hash label excluded), as the
    ``pod-template-hash`` label: ten characters of consonants and digits."""
    clean = json.loads(json.dumps(template))
    labels = (clean.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    text = json.dumps(clean, sort_keys=True, separators=(",", ":")) + f"/{collision_count}"
    number = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    out = ""
    for _ in range(10):
        number, digit = divmod(number, len(_SAFE))
        out += _SAFE[digit]
    return out


def new_rs_replicas(replicas: int, surge: int, total_spec: int, new_spec: int) -> int:
    """How many pods the new ReplicaSet should have now (NewRSNewReplicas, RollingUpdate)."""
    if new_spec >= replicas:
        return replicas
    max_total = replicas + surge
    if total_spec >= max_total:
        return new_spec
    return new_spec + min(max_total - total_spec, replicas - new_spec)


def old_rs_replicas(replicas: int, max_unavailable: int, new_spec: int, new_available: int,
                    olds: list[tuple[int, int]]) -> list[int]:
    """New sizes of the old ReplicaSets, oldest first, given ``(spec, available)`` of each.

    First unhealthy old pods go (they count as unavailable anyway), then available ones as
    long as at least ``replicas - maxUnavailable`` pods stay available overall.
    """
    sizes = [spec for spec, _ in olds]
    if sum(sizes) == 0:
        return sizes
    min_available = replicas - max_unavailable
    all_pods = sum(sizes) + new_spec
    new_unavailable = max(0, new_spec - new_available)
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return sizes
    for i, (spec, available) in enumerate(olds):  # cleanupUnhealthyReplicas
        unhealthy = max(0, spec - available)
        cut = min(unhealthy, budget)
        sizes[i] -= cut
        budget -= cut
        if budget == 0:
            break
    available_total = new_available + sum(min(a, s) for (_, a), s in zip(olds, sizes, strict=True))
    room = available_total - min_available
    for i in range(len(sizes)):
        if room <= 0:
            break
        cut = min(sizes[i], room)
        sizes[i] -= cut
        room -= cut
    return sizes
