"""A whole built-in cluster in this process, on the in-memory container backend.

The API server, store, scheduler, controllers, kubelet and proxy are the real ones (wired by
``start_runtime``, talking over the in-process loopback); only the container engine is the
:class:`FakeBackend`, whose processes the tests make exit. No Docker, about a second a test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from kompy.client import KubeClient, NotFound
from kompy.client.loopback import Reply, Router, attach
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.daemon.runtime import Runtime, start_runtime
from kompy.cluster.kubelet.backend import LABEL_CONTAINER, LABEL_POD, ContainerInfo
from kompy.cluster.kubelet.config import KubeletConfig
from kompy.cluster.kubelet.fake import FakeBackend
from kompy.cluster.store.sqlite import Store

T = TypeVar("T")


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ApiServer]:
    """An API server alone, on a store in the test's folder, that knows the test module's
    ``TOKEN``."""
    srv = ApiServer(Store(tmp_path / "store.db"), request.module.TOKEN).start()
    yield srv
    srv.stop()


class FakeCluster:
    def __init__(self, client: KubeClient, backend: FakeBackend, runtime: Any = None) -> None:
        self.client = client
        self.backend = backend
        self.runtime = runtime   # the scheduler, kubelet, ... (tests that tune one)

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
        """Poll ``probe`` until it returns something truthy; fail naming ``what``. The
        timeout is generous: on a loaded machine a cluster in one process takes its time,
        and a test that means "within N seconds" says so."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() >= deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        try:
            return self.client.get("pods", name, namespace)
        except NotFound:
            return None

    def status_of(self, pod: str, container: str) -> dict[str, Any]:
        found = self.pod(pod) or {}
        for status in (found.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == container:
                return dict(status)
        return {}

    def ready(self, pod: str) -> bool:
        found = self.pod(pod) or {}
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (found.get("status") or {}).get("conditions") or [])

    def running(self, pod: str, container: str) -> ContainerInfo | None:
        found = self.backend.running(**{LABEL_POD: pod, LABEL_CONTAINER: container})
        return found[-1] if found else None


class Severable:
    """The API server as one daemon process reaches it, cut off when that process "dies".

    A thread of a crashed runtime may still be running in this process (a test holds some
    inside a Docker call); a killed process's threads cannot write anything. Without the
    cut, such a thread wrote its stale view of a pod after the new runtime had written the
    pod Running, and the test waited in vain for a status nobody would write again."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.cut = False

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        if self.cut:
            raise requests.ConnectionError("the daemon was killed")
        return self.router.handle(method, target, headers, body)


class FakeNode:
    """A cluster whose runtime (the daemon's half after the API server) can crash and start
    again over the same store, state folder and containers: ``kill -9`` of the daemon, in
    process. :meth:`crash` cuts the runtime off the API and stops every loop, but leaves the
    containers as they are."""

    def __init__(self, tmp_path: Path, backoff_base: float = 0.2) -> None:
        self.tmp_path = tmp_path
        self.backoff_base = backoff_base
        self.config = KubeletConfig()  # a test may change it before start()
        self.metric_resolution = 0.2   # seconds between metrics samples
        self.firewall: Any = None  # NetworkPolicy rules' destination; None: the default
        self.store = Store(tmp_path / "store.db")
        self.server = ApiServer(self.store, "token").start()
        self.client = attach(KubeClient.for_server(self.server.url, "token"), self.server.router)
        self.backend = FakeBackend(tmp_path / "engine")
        self.stop_event = threading.Event()
        self.runtime: Runtime | None = None
        self.wire = Severable(self.server.router)

    def start(self) -> FakeCluster:
        self.stop_event = threading.Event()
        # Each start is a new daemon process: a client of its own, cut off at its crash.
        self.wire = Severable(self.server.router)
        client = attach(KubeClient.for_server(self.server.url, "token"), self.wire)
        self.runtime = start_runtime(client, self.tmp_path / "state", "fake",
                                     self.stop_event, backoff_base=self.backoff_base,
                                     backend=self.backend, config=self.config,
                                     dns_address=("127.0.0.1", 0), firewall=self.firewall,
                                     metric_resolution=self.metric_resolution)
        self.server.set_pod_io(self.runtime.pod_io)
        self.server.set_metrics(self.runtime.metrics)
        return FakeCluster(self.client, self.backend)

    def crash(self) -> None:
        """Every loop of the runtime ends; containers keep running, as after ``kill -9``."""
        assert self.runtime is not None
        self.wire.cut = True
        self.stop_event.set()
        for controller in self.runtime.controllers:
            controller.join(2.0)
        self.runtime.scheduler.join(2.0)
        self.runtime.kubelet.join(0.2)  # a test may hold workers inside a Docker call
        if self.runtime.dns is not None:
            self.runtime.dns.close()  # a killed process' sockets close with it
        # The informers end with their watches (their handlers now feed closed queues).
        self.runtime = None

    def close(self) -> None:
        if self.runtime is not None:
            self.stop_event.set()
            self.runtime.join(5)
        self.server.stop()
        self.backend.pool.shutdown(wait=False)


@pytest.fixture
def fake_node(tmp_path: Path) -> Iterator[FakeNode]:
    """A :class:`FakeNode` whose runtime the test starts (and may crash and start again)."""
    node = FakeNode(tmp_path)
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def fake_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeCluster]:
    """The cluster; ``parametrize("fake_cluster", [SECONDS], indirect=True)`` sets the
    kubelet's restart back-off base (0.2 s otherwise: restarts come at once)."""
    server = ApiServer(Store(tmp_path / "store.db"), "token").start()
    client = attach(KubeClient.for_server(server.url, "token"), server.router)
    backend = FakeBackend(tmp_path / "engine")
    stop = threading.Event()
    runtime = start_runtime(client, tmp_path / "state", "fake", stop,
                            backoff_base=float(getattr(request, "param", 0.2)), backend=backend,
                            dns_address=("127.0.0.1", 0))
    server.set_pod_io(runtime.pod_io)
    try:
        yield FakeCluster(client, backend, runtime)
    finally:
        stop.set()
        runtime.join(5)
        server.stop()
        backend.pool.shutdown(wait=False)
