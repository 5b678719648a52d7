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

from kompy.client import KubeClient, NotFound
from kompy.client.loopback import attach
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.daemon.runtime import start_runtime
from kompy.cluster.kubelet.backend import LABEL_CONTAINER, LABEL_POD, ContainerInfo
from kompy.cluster.kubelet.fake import FakeBackend
from kompy.cluster.store.sqlite import Store

T = TypeVar("T")


class FakeCluster:
    def __init__(self, client: KubeClient, backend: FakeBackend) -> None:
        self.client = client
        self.backend = backend

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = 15.0) -> T:
        """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
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


@pytest.fixture
def fake_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeCluster]:
    """The cluster; ``parametrize("fake_cluster", [SECONDS], indirect=True)`` sets the
    kubelet's restart back-off base (0.2 s otherwise: restarts come at once)."""
    server = ApiServer(Store(tmp_path / "store.db"), "token").start()
    client = attach(KubeClient.for_server(server.url, "token"), server.router)
    backend = FakeBackend(tmp_path / "engine")
    stop = threading.Event()
    runtime = start_runtime(client, tmp_path / "state", "fake", stop,
                            backoff_base=float(getattr(request, "param", 0.2)), backend=backend)
    server.set_pod_io(runtime.pod_io)
    try:
        yield FakeCluster(client, backend)
    finally:
        stop.set()
        runtime.join(5)
        server.stop()
        backend.pool.shutdown(wait=False)
