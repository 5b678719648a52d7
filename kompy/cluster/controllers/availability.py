"""When a pod counts as available: Ready for ``minReadySeconds``, as upstream's
``podutil.IsPodAvailable`` (pkg/api/v1/pod/util.go) decides.

A pod is available once its Ready condition is True and, with ``minReadySeconds`` above 0,
that condition's ``lastTransitionTime`` plus ``minReadySeconds`` lies strictly before now.
Nothing happens when that moment comes, so a controller whose status depends on it asks its
work queue to bring the owner back then (:func:`recheck_in`), as upstream's controllers
``AddAfter`` the owner's key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from kompy.client.objects import parse_time, pod_ready

# Past the moment itself: the check is "strictly before now", and a requeue that fires on
# the very second would find the pod still unavailable and have to wait for another one.
MARGIN = 0.05


def min_ready_seconds(owner: Mapping[str, Any]) -> int:
    value = (owner.get("spec") or {}).get("minReadySeconds") or 0
    return int(value) if isinstance(value, int) and value > 0 else 0


def ready_since(pod: Mapping[str, Any]) -> float | None:
    """When the pod's Ready condition turned True (POSIX seconds); None when not Ready or
    when the condition carries no time."""
    if not pod_ready(pod):
        return None
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return parse_time(cond.get("lastTransitionTime"))
    return None


def pod_available(pod: Mapping[str, Any], min_ready: int, now: float | None = None) -> bool:
    """IsPodAvailable: Ready, and Ready for longer than ``min_ready`` seconds."""
    if not pod_ready(pod):
        return False
    if min_ready <= 0:
        return True
    since = ready_since(pod)
    current = time.time() if now is None else now
    return since is not None and since + min_ready < current


def recheck_in(pods: Iterable[Mapping[str, Any]], min_ready: int,
               now: float | None = None) -> float | None:
    """Seconds until the first Ready pod that is not yet available becomes so (the delay of
    the owner's next sync); None when no pod is waiting for its minReadySeconds."""
    if min_ready <= 0:
        return None
    current = time.time() if now is None else now
    waits = [since + min_ready - current for pod in pods
             if (since := ready_since(pod)) is not None
             and not pod_available(pod, min_ready, current)]
    return max(min(waits), 0.0) + MARGIN if waits else None
