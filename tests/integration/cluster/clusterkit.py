"""Helpers for the runtime's integration tests: waiting on conditions, building objects."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from enginekit import docker_ok as docker_ok  # (its tests import it from here)

T = TypeVar("T")
BUSYBOX = "kompy/busybox:1"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0,
             describe: Callable[[], str] | None = None) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` (and a
    description of the current state) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - keep waiting; report the last one
            last_error = error
        time.sleep(0.2)
    detail = describe() if describe else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}. {detail} "
                         f"{last_error or ''}")


def pod(name: str, ns: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": list(containers), "terminationGracePeriodSeconds": 1,
                     **spec}}


def container(name: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": BUSYBOX, "command": ["sh", "-c", command], **extra}


def phase(client: Any, name: str, ns: str) -> str:
    return str((client.get("pods", name, ns).get("status") or {}).get("phase"))


def running(client: Any, name: str, ns: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the pod is Running and all its containers are ready."""
    def probe() -> dict[str, Any] | None:
        p: dict[str, Any] = client.get("pods", name, ns)
        st = p.get("status") or {}
        cs = st.get("containerStatuses") or []
        if st.get("phase") == "Running" and cs and all(c.get("ready") for c in cs):
            return p
        return None
    return wait_for(f"pod {ns}/{name} running and ready", probe, timeout,
                    lambda: str(client.get("pods", name, ns).get("status")))


def events(client: Any, ns: str, name: str) -> list[dict[str, Any]]:
    items = client.list("events", ns).get("items") or []
    return [e for e in items if (e.get("involvedObject") or {}).get("name") == name]


def sh(client: Any, name: str, ns: str, command: str, container: str | None = None) -> str:
    code, out = client.exec(name, ns, ["sh", "-c", command], container=container)
    text = str(out.decode(errors="replace"))
    assert code == 0, f"`{command}` in {ns}/{name} exited {code}: {text}"
    return text
