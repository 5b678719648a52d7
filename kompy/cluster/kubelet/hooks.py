"""A container's preStop and postStart hooks: ``exec``, ``httpGet`` or ``sleep``, as the
kubelet's handler runner (``pkg/kubelet/lifecycle/handlers.go``) runs them.
https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/

The hook runs before the container's stop signal and its time counts against the pod's
grace period (:mod:`.shutdown` stops waiting for it when the grace period ends). A failed
hook is a ``FailedPreStopHook`` Warning event that, as upstream's, says only "PreStopHook
failed": the hook's output may hold secrets; the daemon's log says why.

The postStart hook runs right after the container starts (kuberuntime_container.go
startContainer), on a thread of its own (:meth:`.podworker.PodWorker._post_start`); the
pod's next container starts, and the container is probed, once it ends. A failed one is a
``FailedPostStartHook`` Warning event (it says "PostStartHook failed", for the same reason)
and the container is killed, with no preStop hook, to be restarted per the pod's
restartPolicy.
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


# Upstream gives postStart no time limit; a hook that never ends would hold the pod's worker
# for good, so it is cut here (and counts as failed) after this long.
POST_START_TIMEOUT = 300.0


def pre_stop_handler(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's preStop handler, when its spec has one."""
    return _handler(spec, "preStop")


def post_start_handler(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's postStart handler, when its spec has one."""
    return _handler(spec, "postStart")


def _handler(spec: dict[str, Any] | None, event: str) -> dict[str, Any] | None:
    handler = ((spec or {}).get("lifecycle") or {}).get(event)
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


def run_post_start(backend: ContainerBackend, recorder: EventRecorder, pod: Obj,
                   spec: dict[str, Any], container_id: str, pod_ip: str,
                   cancelled: Callable[[], bool] = lambda: False) -> bool:
    """Run the container's postStart hook, if any; False when it failed (the container is
    killed then: the caller lets the restart policy take it from there). A hook that fails
    once ``cancelled()`` (the pod is being deleted: its container is being stopped) is
    only logged: the pod's termination takes the container over."""
    handler = post_start_handler(spec)
    if handler is None:
        return True
    error = run_handler(backend, handler, container_id, pod_ip, named_ports(spec),
                        POST_START_TIMEOUT)
    if not error:
        return True
    if cancelled():
        log.info("postStart hook of container %s of pod %s/%s ended with the pod's deletion: "
                 "%s", spec.get("name"), namespace(pod), name(pod), error)
        return False
    log.warning("postStart hook of container %s of pod %s/%s: %s", spec.get("name"),
                namespace(pod), name(pod), error)
    recorder.warning(pod, "FailedPostStartHook", "PostStartHook failed")
    try:
        backend.kill(container_id)
    except KompyError as kill_error:  # already gone: nothing left to kill
        log.info("killing container %s after its postStart hook: %s", container_id,
                 kill_error.message)
    return False
