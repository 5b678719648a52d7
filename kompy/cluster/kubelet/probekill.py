"""Killing a container whose liveness or startup probe failed, as upstream's kubelet does.

Upstream's ``computePodActions`` (``pkg/kubelet/kuberuntime/kuberuntime_manager.go``) marks
the container to kill with the message "Container X failed liveness probe" (", will be
restarted" unless the pod's restartPolicy is Never), and ``killContainer`` records it as a
``Killing`` event, runs the container's preStop hook and stops the container within its
grace period (``setTerminationGracePeriod``): the deletion's, else the probe's own
``terminationGracePeriodSeconds``, else the pod's, and never less than 2 s after the stop
signal. Here the kill is handed to the kubelet's :class:`~.shutdown.Stopper`, so no sync
worker or engine thread waits out the grace period of a process that ignores SIGTERM.
"""

from __future__ import annotations

from typing import Any

from kompy.client.objects import Obj, grace_seconds, meta


def kill_grace(pod: Obj, container: dict[str, Any], probe: str) -> int:
    """The grace period of a container killed for its ``probe`` (liveness or startup):
    upstream's setTerminationGracePeriod."""
    if meta(pod).get("deletionGracePeriodSeconds") is None:
        own = (container.get(f"{probe}Probe") or {}).get("terminationGracePeriodSeconds")
        if own is not None:
            return int(own)
    return grace_seconds(pod)


def kill_message(pod: Obj, container: str, probe: str) -> str:
    """The ``Killing`` event's message (upstream's computePodActions)."""
    message = f"Container {container} failed {probe} probe"
    if str((pod.get("spec") or {}).get("restartPolicy") or "Always") != "Never":
        message += ", will be restarted"
    return message
