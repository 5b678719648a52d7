"""Container probes: exec, httpGet and tcpSocket; liveness, readiness and startup.

https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes
One timer thread sleeps until the next probe is due and hands it to a small pool, so probes
are the runtime's only periodic work. Results are kept per container id (a restarted
container starts over); a change of readiness, or a liveness/startup failure past its
threshold, calls back into the kubelet.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kompy.cluster.kubelet.backend import ContainerBackend
from kompy.engine.connection import EngineError

log = logging.getLogger(__name__)

# (pod uid, container name, container id, kind, message)
FailureCallback = Callable[[str, str, str, str, str], None]
ChangeCallback = Callable[[str], None]


@dataclass
class _Probe:
    pod_uid: str
    container: str
    container_id: str
    kind: str  # liveness | readiness | startup
    spec: dict[str, Any]
    pod_ip: str
    ports: dict[str, int]
    successes: int = 0
    failures: int = 0
    result: bool | None = None
    active: bool = True


class Prober:
    def __init__(self, backend: ContainerBackend, on_change: ChangeCallback,
                 on_failure: FailureCallback) -> None:
        self.backend = backend
        self.on_change = on_change
        self.on_failure = on_failure
        self._probes: dict[tuple[str, str, str], _Probe] = {}
        self._heap: list[tuple[float, int, tuple[str, str, str]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="kompy-probe")
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)
        self._thread.start()

    # -- what the kubelet asks -----------------------------------------------------------------
    def ensure(self, pod_uid: str, container: dict[str, Any], container_id: str, pod_ip: str,
               started_at: float) -> None:
        """Probe this running container (idempotent; a new container id starts over)."""
        ports = named_ports(container)
        name = str(container.get("name"))
        for kind in ("startup", "liveness", "readiness"):
            spec = container.get(f"{kind}Probe")
            key = (pod_uid, name, kind)
            with self._cond:
                current = self._probes.get(key)
                if not spec:
                    self._probes.pop(key, None)
                    continue
                if current is not None and current.container_id == container_id:
                    continue
                probe = _Probe(pod_uid, name, container_id, kind, spec, pod_ip, ports)
                self._probes[key] = probe
                delay = float(spec.get("initialDelaySeconds") or 0)
                due = max(time.monotonic(), time.monotonic() + delay - (time.time() - started_at))
                heapq.heappush(self._heap, (due, next(self._seq), key))
                self._cond.notify()

    def forget(self, pod_uid: str, container: str | None = None) -> None:
        with self._cond:
            for key in [k for k in self._probes
                        if k[0] == pod_uid and (container is None or k[1] == container)]:
                self._probes.pop(key).active = False

    def started(self, pod_uid: str, container: str, container_id: str) -> bool:
        """startupProbe passed (or there is none) for this container instance."""
        with self._cond:
            probe = self._probes.get((pod_uid, container, "startup"))
        if probe is None or probe.container_id != container_id:
            return probe is None
        return bool(probe.result)

    def ready(self, pod_uid: str, container: str, container_id: str) -> bool:
        """readinessProbe passed (or there is none) and the container has started."""
        if not self.started(pod_uid, container, container_id):
            return False
        with self._cond:
            probe = self._probes.get((pod_uid, container, "readiness"))
        if probe is None:
            return True
        return probe.container_id == container_id and bool(probe.result)

    def shutdown(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the timer ------------------------------------------------------------------------------
    def _run(self) -> None:
        with self._cond:
            while not self._stop:
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is not None and wait <= 0:
                    _, _, key = heapq.heappop(self._heap)
                    probe = self._probes.get(key)
                    if probe is not None and probe.active:
                        self._pool.submit(self._execute, key, probe)
                    continue
                self._cond.wait(wait)

    def _execute(self, key: tuple[str, str, str], probe: _Probe) -> None:
        if probe.kind != "startup" and not self.started(probe.pod_uid, probe.container,
                                                         probe.container_id):
            self._reschedule(key, probe)  # liveness and readiness wait for startup
            return
        try:
            ok, message = self._check(probe)
        except EngineError as error:
            # Docker failed the call (gone, restarting, the container stopping): the result
            # is thrown away, as the kubelet's prober does with a runtime error, rather than
            # counted against a container that may be fine.
            log.debug("probe of %s/%s errored: %s", probe.pod_uid, probe.container, error)
            self._reschedule(key, probe)
            return
        except Exception as error:  # noqa: BLE001 - a probe that errors has failed
            ok, message = False, str(error)
        spec = probe.spec
        changed = failed = False
        if ok:
            probe.successes += 1
            probe.failures = 0
            threshold = 1 if probe.kind != "readiness" else int(spec.get("successThreshold") or 1)
            if probe.successes >= threshold and probe.result is not True:
                probe.result, changed = True, True
        else:
            probe.failures += 1
            probe.successes = 0
            if probe.failures >= int(spec.get("failureThreshold") or 3):
                if probe.result is not False:
                    probe.result, changed = False, True
                failed = probe.kind in ("liveness", "startup")
        if not probe.active:
            return
        if not ok:
            self.on_failure(probe.pod_uid, probe.container, probe.container_id,
                            "Unhealthy:" + probe.kind, message)
        if failed:
            probe.active = False  # the container is about to be killed; its successor re-registers
            self.on_failure(probe.pod_uid, probe.container, probe.container_id,
                            "Kill:" + probe.kind, message)
        if changed:
            self.on_change(probe.pod_uid)
        if probe.kind == "startup" and probe.result:
            return  # a startup probe stops once it has succeeded
        self._reschedule(key, probe)

    def _reschedule(self, key: tuple[str, str, str], probe: _Probe) -> None:
        if not probe.active:
            return
        with self._cond:
            if self._probes.get(key) is not probe:
                return
            period = float(probe.spec.get("periodSeconds") or 10)
            heapq.heappush(self._heap, (time.monotonic() + period, next(self._seq), key))
            self._cond.notify()

    def _check(self, probe: _Probe) -> tuple[bool, str]:
        spec = probe.spec
        timeout = float(spec.get("timeoutSeconds") or 1)
        if "exec" in spec:
            command = [str(c) for c in spec["exec"].get("command") or []]
            code, output = self.backend.exec(probe.container_id, command, timeout=timeout)
            text = output.decode(errors="replace").strip()
            return code == 0, f"exec {command} exited with {code}: {text[:200]}"
        if "httpGet" in spec:
            return http_get(spec["httpGet"], probe.pod_ip, probe.ports, timeout)
        if "tcpSocket" in spec:
            port = _port(spec["tcpSocket"].get("port"), probe.ports)
            host = spec["tcpSocket"].get("host") or probe.pod_ip
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError as error:
                return False, f"dial tcp {host}:{port}: {error}"
            return True, ""
        return True, ""


def named_ports(container: dict[str, Any]) -> dict[str, int]:
    """The container's named ports, which a probe or hook may give as its port."""
    return {str(p.get("name")): int(p.get("containerPort"))
            for p in container.get("ports") or [] if p.get("name")}


def _port(value: Any, ports: dict[str, int]) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    if str(value) not in ports:
        raise ValueError(f"named port {value!r} is not a port of the container")
    return ports[str(value)]


def http_get(spec: dict[str, Any], pod_ip: str, ports: dict[str, int],
             timeout: float) -> tuple[bool, str]:
    """An ``httpGet`` probe or hook: success is a status from 200 to 399."""
    port = _port(spec.get("port"), ports)
    host = spec.get("host") or pod_ip
    path = str(spec.get("path") or "/")
    headers = {str(h.get("name")): str(h.get("value")) for h in spec.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/kompy")
    scheme = str(spec.get("scheme") or "HTTP").lower()
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                           context=ssl._create_unverified_context())  # noqa: S323
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        return False, f'Get "{scheme}://{host}:{port}{path}": {error}'
    finally:
        conn.close()
    if 200 <= status < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {status}"
