"""A container's preStop hook: ``exec``, ``httpGet`` or ``sleep``, as the kubelet's handler
runner (``pkg/kubelet/lifecycle/handlers.go``) runs it.
https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/

The hook runs before the container's stop signal and its time counts against the pod's
grace period (:mod:`.shutdown` stops waiting for it when the grace period ends). A failed
hook is a ``FailedPreStopHook`` Warning event that, as upstream's, says only "PreStopHook
failed": the hook's output may hold secrets; the daemon's log says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kompy.client.events import EventRecorder
from kompy.client.objects import Obj, name, namespace
from kompy.cluster.kubelet.backend import ContainerBackend, ContainerInfo
from kompy.cluster.kubelet.probes import http_get, named_ports
from kompy.errors import KompyError

log = logging.getLogger(__name__)


def pre_stop_handler(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's preStop handler, when its spec has one."""
    handler = ((spec or {}).get("lifecycle") or {}).get("preStop")
    return handler if isinstance(handler, dict) and handler else None


def run_handler(backend: ContainerBackend, handler: dict[str, Any], container_id: str,
                pod_ip: str, ports: dict[str, int], timeout: float) -> str:
    """Run a lifecycle handler; "" when it succeeded, else why it failed."""
    if "exec" in handler:
        command = [str(c) for c in (handler["exec"] or {}).get("command") or []]
        try:
            code, output = backend.exec(container_id, command, timeout=timeout)
        except KompyError as error:
            return f"Exec lifecycle hook ({command}) failed - error: {error.message}"
        text = output.decode(errors="replace").strip()
        return "" if code == 0 else (f"Exec lifecycle hook ({command}) failed - error: "
                                     f"command exited with {code}, message: {text[:200]!r}")
    if "httpGet" in handler:
        try:
            ok, message = http_get(handler["httpGet"] or {}, pod_ip, ports, timeout)
        except ValueError as error:  # a named port the container does not have
            return f"HTTP lifecycle hook failed - error: {error}"
        return "" if ok else f"HTTP lifecycle hook failed - error: {message}"
    if "sleep" in handler:
        # Cut at the grace period: the container is stopped then anyway.
        time.sleep(max(0.0, min(float((handler["sleep"] or {}).get("seconds") or 0), timeout)))
        return ""
    return f"invalid handler: {sorted(handler)} (kompy runs exec, httpGet and sleep hooks)"


def hook_runner(backend: ContainerBackend, recorder: EventRecorder, pod: Obj,
                container: ContainerInfo, spec: dict[str, Any], handler: dict[str, Any],
                timeout: float) -> Callable[[], None]:
    """What runs the hook on the stopper's thread, its failure reported as upstream's."""
    pod_ip = str((pod.get("status") or {}).get("podIP") or container.ip or "")

    def run() -> None:
        error = run_handler(backend, handler, container.id, pod_ip, named_ports(spec), timeout)
        if error:
            log.warning("preStop hook of container %s of pod %s/%s: %s", spec.get("name"),
                        namespace(pod), name(pod), error)
            recorder.warning(pod, "FailedPreStopHook", "PreStopHook failed")

    return run
