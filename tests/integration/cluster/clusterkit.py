"""Helpers for the runtime's integration tests: waiting on conditions, building objects."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from enginekit import docker_ok as docker_ok  # (its tests import it from here)

T = TypeVar("T")
BUSYBOX = "kompy/busybox:1"


@contextlib.contextmanager
def own_cluster(home: Path, prefix: str, *start_args: str) -> Iterator[Any]:
    """A cluster of its own KOMPY_HOME (``kompy cluster start START_ARGS``), its client
    yielded while the environment names it; reset at the end."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KOMPY_HOME": str(home), "KOMPY_CLUSTER": name,
           "KOMPY_INGRESS_PORTS": "off", "HOME": str(home)}
    started = subprocess.run([sys.executable, "-m", "kompy", "cluster", "start", *start_args],
                             env=env, capture_output=True, text=True, timeout=180)
    saved = dict(os.environ)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        os.environ.update(env)
        from kompy.cluster.daemon.process import running_client

        yield running_client(name)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True, text=True, timeout=180)


def kubectl_runner(binary: Path, cluster: dict[str, Any], namespace: str, home: Path
                   ) -> Callable[..., str]:
    """Stock kubectl ``binary`` on the cluster, in ``namespace``, with its caches in
    ``home``: ``run(*args, code=0, stdin=None)`` checks the exit code and returns what it
    printed (the failure says what ran and what it printed)."""
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(cluster["dir"] / "kubeconfig")}

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        done = subprocess.run([str(binary), "-n", namespace, *args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=90)
        output = done.stdout + done.stderr
        assert done.returncode == code, f"kubectl {' '.join(args)} exited " \
                                        f"{done.returncode}:\n{output}"
        return output
    return run


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
