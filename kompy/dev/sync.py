"""Acting on running pods for ``kompy dev``: file sync, in-place restart, commands.

Files travel as kubectl cp and Skaffold's sync do: a tar archive handed to ``tar -x`` in the
container through the API's standard exec (so the image needs ``tar``; busybox and Debian
images have it), and deletions as one ``rm -rf``. Every call goes through the one
KubeClient, so the same code syncs on any cluster. A restart is asked of the kubelet with
the pod annotation ``kompy.dev/restart-requested-at``: it restarts the same container,
keeping the synced files (Compose's ``sync+restart``).

Starting a process in a container costs the engine most of a sync (about 85 ms on Docker
here, whatever the command), so each pod's container keeps one helper shell open for the
dev session (:class:`_Helper`): it reads a length line, then exactly that many bytes of tar
(``dd`` with ``iflag=count_bytes,fullblock``, in GNU coreutils and busybox) into ``tar -x``,
and answers ``ok`` or ``failed``. A container whose image cannot run the helper gets one
exec per sync instead.

Synced files live in the container's writable layer: a container that the kubelet replaces
(a crash) or a new pod starts from the image again; ``kompy dev`` remembers what it synced
and syncs it again into every new container (:mod:`kompy.dev.tracker`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import tarfile
import threading
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kompy.client import ApiError, KubeClient, NotFound, remotecommand, websocket
from kompy.client.wellknown import RESTART_ANNOTATION
from kompy.dev import engine_sync
from kompy.dev.plan import SyncOp
from kompy.errors import ClusterError


@dataclass(frozen=True)
class Target:
    """Where a service runs: the pods its selector picks, and its container's name."""

    namespace: str
    selector: str          # a label selector
    container: str
    # The built-in cluster's extras are on: its engine shortcut (KOMPY_DEV_SYNC=engine) may
    # be used; off (any other cluster, --no-builtin-extras), only the API's exec.
    extras: bool = False


@dataclass(frozen=True)
class PodState:
    """One pod of a target, and its target container's current run."""

    name: str
    container_id: str      # "docker://..." of the latest run; "" before the first
    running: bool


def target_pods(client: KubeClient, target: Target) -> list[PodState]:
    """The target's pods that are not being deleted, in name order."""
    pods = client.list("pods", target.namespace, label_selector=target.selector)["items"]
    return sorted((pod_state(pod, target.container) for pod in pods
                   if not (pod.get("metadata") or {}).get("deletionTimestamp")),
                  key=lambda p: p.name)


def pod_state(pod: dict[str, Any], container: str) -> PodState:
    name = str((pod.get("metadata") or {}).get("name"))
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            running = "running" in (status.get("state") or {})
            return PodState(name, str(status.get("containerID") or ""), running)
    return PodState(name, "", False)


def archive(ops: Iterable[SyncOp]) -> bytes:
    """A tar of the files that exist, named by their path in the container (no leading /)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for op in ops:
            if op.deleted or not os.path.lexists(op.host_path):
                continue
            tar.add(op.host_path, arcname=op.container_path.lstrip("/"), recursive=True)
    return buffer.getvalue()


def sync(client: KubeClient, target: Target, pods: Sequence[str], ops: Sequence[SyncOp]
         ) -> None:
    """Copy and delete files in the target container of every pod (the pods in parallel)."""
    data = archive(ops)
    gone = [op.container_path for op in ops if op.deleted or not os.path.lexists(op.host_path)]
    shortcut = target.extras and engine_sync.enabled()
    helpers = {} if shortcut else _helpers(client, target, pods)

    def one(pod: str) -> None:
        if data and not (shortcut and engine_sync.put(target.namespace, pod, target.container,
                                                       data)):
            helper = helpers.get(pod)
            if helper is None or not helper.extract(data):
                _run(client, target, pod, ["tar", "-x", "-f", "-", "-C", "/"], data,
                     "copying files failed (does the image have tar?)")
        if gone:
            _run(client, target, pod, ["rm", "-rf", "--", *gone], None,
                 "deleting files failed")
    if len(pods) == 1:
        one(pods[0])
        return
    with ThreadPoolExecutor(min(len(pods), 8), thread_name_prefix="kompy-sync") as pool:
        for future in [pool.submit(one, pod) for pod in pods]:
            future.result()


# A helper's script. `dd` reads exactly the archive's length (a shell's `read` takes the
# length line byte by byte, so nothing beyond it is consumed); whatever tar leaves unread
# after a failure is drained, so the next length line is where it should be.
HELPER_SCRIPT = (
    "printf x | dd bs=1 count=1 iflag=count_bytes,fullblock >/dev/null 2>&1 || exit 3; "
    "echo ready; "
    "while read -r n; do "
    "dd bs=65536 count=\"$n\" iflag=count_bytes,fullblock 2>/dev/null | "
    "{ tar -x -f - -C /; s=$?; cat >/dev/null; exit $s; } && echo ok || echo failed; "
    "done")
HELPER_TIMEOUT = 30.0


class _Helper:
    """One pod container's helper shell, open for the dev session."""

    def __init__(self, client: KubeClient, target: Target, pod: str) -> None:
        self.pod = pod
        self.process = remotecommand.open_exec(client, pod, target.namespace,
                                               ["sh", "-c", HELPER_SCRIPT],
                                               container=target.container, stdin=True)
        self.lock = threading.Lock()
        self.alive = self._expect() == "ready"
        self.unsupported = not self.alive     # the image cannot run it: never again
        if not self.alive:
            self.process.close()

    def _expect(self) -> str:
        """The helper's next line on standard output ("" when it ended); standard error is
        kept for the failure message."""
        line = bytearray()
        self.errors = bytearray()
        while not line.endswith(b"\n"):
            item = self.process.read(HELPER_TIMEOUT)
            if item is None:
                return ""
            stream, data = item
            if stream == remotecommand.STDERR:
                self.errors += data
            else:
                line += data
        return line.decode(errors="replace").strip()

    def extract(self, data: bytes) -> bool:
        """Unpack ``data`` (a tar) at /; False when the helper is gone (use a fresh exec),
        a ClusterError when tar failed."""
        with self.lock:
            if not self.alive:
                return False
            try:
                self.process.write(f"{len(data)}\n".encode() + data)
                answer = self._expect()
            except (websocket.WebSocketError, TimeoutError, ApiError):
                answer = ""
            if answer == "ok":
                return True
            if answer == "failed":
                text = self.errors.decode(errors="replace").strip().splitlines()
                raise ClusterError(f"pod {self.pod}: copying files failed"
                                   + (f": {text[-1]}" if text else ""))
            self.alive = False
            self.process.close()
            return False


_sessions: weakref.WeakKeyDictionary[KubeClient, dict[tuple[str, str, str], _Helper]] = \
    weakref.WeakKeyDictionary()
_sessions_lock = threading.Lock()
# One caller starts helpers at a time (a sync, or warm() in the background): a helper is
# never started twice for the same container.
_starting = threading.Lock()


def _helpers(client: KubeClient, target: Target, pods: Sequence[str]) -> dict[str, _Helper]:
    """The helpers of these pods, started where missing (in parallel); helpers of pods of
    the target that are gone are closed."""
    with _sessions_lock:
        known = _sessions.setdefault(client, {})
    wanted = {(target.namespace, pod, target.container): pod for pod in pods}
    with _starting:
        for key in [k for k in known if k[0] == target.namespace
                    and k[2] == target.container and k not in wanted]:
            known.pop(key).process.close()
        # A helper that died (its container restarted) is started again.
        missing = [key for key in wanted if key not in known
                   or not known[key].alive and not known[key].unsupported]

        def start(key: tuple[str, str, str]) -> None:
            with contextlib.suppress(ClusterError, TimeoutError):   # none: one exec per sync
                known[key] = _Helper(client, target, key[1])
        if missing:
            with ThreadPoolExecutor(min(len(missing), 8),
                                    thread_name_prefix="kompy-sync") as pool:
                list(pool.map(start, missing))
        return {pod: known[key] for key, pod in wanted.items() if key in known}


def warm(client: KubeClient, target: Target, pods: Sequence[str]) -> None:
    """Start the helpers of these pods' containers now (a restarted container's helper
    died with its process), so that the next sync only sends its files."""
    _helpers(client, target, pods)


def drop_helpers(client: KubeClient, target: Target, pods: Sequence[str]) -> None:
    """The helpers of these pods are closed: their containers are about to restart, which
    ends them (a later sync or :func:`warm` starts new ones)."""
    with _sessions_lock:
        known = _sessions.setdefault(client, {})
    with _starting:
        for pod in pods:
            helper = known.pop((target.namespace, pod, target.container), None)
            if helper is not None:
                helper.process.close()


def run_command(client: KubeClient, target: Target, pod: str, command: Sequence[str],
                engine: bool = False) -> bytes:
    """Run a ``sync+exec`` command; its output, or a ClusterError naming the exit code.
    ``engine``: a command that asks for ``privileged`` runs through the Docker engine (the
    built-in cluster's extra; kompy/dev/plan.py ``ExecCommand``)."""
    failure = f"`{' '.join(command)}` failed"
    if engine and getattr(command, "privileged", False):
        done = engine_sync.exec_privileged(target.namespace, pod, target.container,
                                           list(command))
        if done is not None:
            return _checked(pod, done[0], done[1], failure)
    return _run(client, target, pod, list(command), None, failure)


def _checked(pod: str, code: int, output: bytes, failure: str) -> bytes:
    if code != 0:
        text = output.decode(errors="replace").strip().splitlines()
        raise ClusterError(f"pod {pod}: {failure} (exit code {code})"
                           + (f": {text[-1]}" if text else ""))
    return output


def _run(client: KubeClient, target: Target, pod: str, command: list[str],
         stdin: bytes | None, failure: str) -> bytes:
    try:
        code, output = client.exec(pod, target.namespace, command, container=target.container,
                                   stdin=stdin)
    except NotFound:
        return b""  # the pod went away meanwhile (a rollout): nothing to update in it
    return _checked(pod, code, output, failure)


def restart_by_deleting(client: KubeClient, target: Target, pods: Sequence[str],
                        grace: int) -> None:
    """Restart pods the standard way, where containers cannot be restarted in place: delete
    them (within ``grace`` seconds) and let their controller make new ones from the image."""
    for pod in pods:
        with contextlib.suppress(NotFound):
            client.delete("pods", pod, target.namespace, grace_period_seconds=grace)


def request_restart(client: KubeClient, target: Target, pods: Sequence[str]) -> float:
    """Ask the kubelet to restart each pod's running containers in place (and to start at
    once a crashed one that waits out its back-off); the time of the request."""
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch: dict[str, Any] = {"metadata": {"annotations": {RESTART_ANNOTATION: stamp}}}
    for pod in pods:
        try:
            client.patch("pods", pod, target.namespace, patch)
        except NotFound:
            continue
    return now.timestamp()
