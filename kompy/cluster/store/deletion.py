"""When a deleted object goes: kube-apiserver's ``rest.BeforeDelete`` and the Pod strategy's
``CheckGracefulDelete`` (staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go,
pkg/registry/core/pod/strategy.go), as pure functions over the stored metadata.

A bound, unfinished Pod is deleted gracefully: ``deletionTimestamp`` is the moment it should
be gone (now plus the grace period, not the moment of the request) and
``deletionGracePeriodSeconds`` the grace period. A later DELETE may only shorten it: both
move earlier, to the first request's moment plus the new grace period, never later.
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

STAMP = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_GRACE = 30   # the API server's default terminationGracePeriodSeconds


@dataclass(frozen=True)
class Deletion:
    """The deletion marks a DELETE writes on the object."""

    timestamp: str
    grace: int


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime(STAMP)


def _parse(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, STAMP).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def pod_grace(pod: dict[str, Any], asked: int | None) -> int:
    """CheckGracefulDelete: the asked grace period, else the pod's
    ``terminationGracePeriodSeconds``; 0 for a pod no node runs yet or one that finished
    (nothing to stop). A negative one counts as 1 s (BeforeDelete)."""
    spec = pod.get("spec") or {}
    period = asked if asked is not None else spec.get("terminationGracePeriodSeconds",
                                                      DEFAULT_GRACE)
    period = 1 if int(period) < 0 else int(period)
    if not spec.get("nodeName"):
        return 0
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        return 0
    return period


def first_pod_deletion(pod: dict[str, Any], asked: int | None, now: datetime) -> Deletion:
    """The marks of a pod's first DELETE: gone by now + its grace period."""
    grace = pod_grace(pod, asked)
    return Deletion(stamp(now + timedelta(seconds=grace)), grace)


def shortened(meta: dict[str, Any], asked: int | None) -> Deletion | None:
    """A DELETE of an object already being deleted gracefully: the marks moved earlier when
    ``asked`` is shorter than its grace period, else None (upstream's "graceful deletion is
    pending": nothing changes, a longer grace period never extends it)."""
    current = meta.get("deletionGracePeriodSeconds")
    if asked is None or current is None or int(current) == 0:
        return None
    period = 1 if asked < 0 else asked
    if period >= int(current):
        return None
    began = _parse(str(meta.get("deletionTimestamp")))
    if began is None:   # not a timestamp kompy wrote: keep it, shorten the grace period
        return Deletion(str(meta.get("deletionTimestamp")), period)
    moved = began - timedelta(seconds=int(current)) + timedelta(seconds=period)
    return Deletion(stamp(moved), period)


__all__ = ["Deletion", "first_pod_deletion", "pod_grace", "shortened", "stamp"]
