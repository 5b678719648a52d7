"""Whether a pod's container runs, and when its latest run started and ended, for the dev loop.

On the built-in cluster with its extras, the Docker engine says it to the fraction of a
second (kompy/engine/containers.py): the pod status has whole seconds, which cannot tell a
restart just after a request in the same second. Any other cluster's containers are not on
this engine, and with the extras off the built-in cluster is treated the same: the answer
comes from the pods' statuses through the API, each time rounded up to the end of its
second (an event in the same second as a change counts as after it).

One mode per process, set by the dev session (:func:`use_engine`, :func:`use_api`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kompy.client import KubeClient
from kompy.client.objects import parse_time
from kompy.engine.containers import RunState
from kompy.errors import KompyError

CACHE_SECONDS = 0.2

_lock = threading.Lock()
_api: dict[str, Any] = {}   # "client", "namespace", "pods", "at" when the API answers


def use_engine() -> None:
    with _lock:
        _api.clear()


def use_api(client: KubeClient, namespace: str) -> None:
    with _lock:
        _api.clear()
        _api.update(client=client, namespace=namespace, pods=[], at=0.0)


def run_state(container_id: str) -> RunState | None:
    """The container's latest run; None when it is gone (or unknown). A KompyError when
    nobody can say."""
    if not container_id:
        return None
    with _lock:
        api = dict(_api)
    if not api:
        from kompy.engine.containers import run_state as engine_run_state

        return engine_run_state(container_id)
    return _from_pods(_pods(api), container_id)


def run_output(container_id: str, since: float | None) -> bytes | None:
    """The container's own output since ``since`` when the engine can say (the built-in
    cluster with its extras: by container id, whatever the pod status says yet); None
    otherwise, or when the container is gone. A KompyError when the engine fails."""
    with _lock:
        api = dict(_api)
    if api or not container_id:
        return None
    from kompy.engine.containers import run_output as engine_run_output

    return engine_run_output(container_id, since)


def _pods(api: dict[str, Any]) -> list[dict[str, Any]]:
    now = time.monotonic()
    if now - float(api["at"]) < CACHE_SECONDS:
        return list(api["pods"])
    client: KubeClient = api["client"]
    pods = client.list("pods", str(api["namespace"])).get("items") or []
    with _lock:
        if _api.get("client") is client:
            _api.update(pods=pods, at=now)
    return list(pods)


def _from_pods(pods: list[dict[str, Any]], cid: str) -> RunState | None:
    for pod in pods:
        status = pod.get("status") or {}
        for container in [*(status.get("initContainerStatuses") or []),
                          *(status.get("containerStatuses") or [])]:
            state = container.get("state") or {}
            if container.get("containerID") == cid:
                if "running" in state:
                    return RunState(True, _end_of(state["running"].get("startedAt")), None)
                ended = state.get("terminated") or {}
                if ended:
                    return _ended(ended)
            last = (container.get("lastState") or {}).get("terminated") or {}
            if last.get("containerID") == cid:
                return _ended(last)
    return None


def _ended(terminated: dict[str, Any]) -> RunState:
    code = terminated.get("exitCode")
    return RunState(False, _end_of(terminated.get("startedAt")),
                    _end_of(terminated.get("finishedAt")),
                    int(code) if code is not None else None)


def _end_of(stamp: str | None) -> float | None:
    whole = parse_time(stamp)
    return None if whole is None else float(whole) + 0.999


def still_running(container_id: str) -> bool:
    """Whether the container runs (True when nobody can say: a sync's own error is then
    reported rather than taken for a crash)."""
    try:
        state = run_state(container_id)
    except KompyError:
        return True
    return state is not None and state.running
