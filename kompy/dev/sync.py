"""Acting on running pods for ``kompy dev``: file sync, in-place restart, commands.

Files travel as kubectl cp and Skaffold's sync do: a tar archive handed to ``tar -x`` in the
container through the API's exec (so the image needs ``tar``; busybox and Debian images have
it), and deletions as one ``rm -rf``. Every call goes through the one KubeClient. A restart
is asked of the kubelet with the pod annotation ``kompy.dev/restart-requested-at``: it
restarts the same container, keeping the synced files (Compose's ``sync+restart``).

Synced files live in the container's writable layer: a pod that the kubelet replaces (a
crash, a rollout) starts from the image again, as in Compose and Skaffold.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kompy.client import KubeClient, NotFound
from kompy.client.wellknown import RESTART_ANNOTATION
from kompy.dev.plan import SyncOp
from kompy.errors import ClusterError


@dataclass(frozen=True)
class Target:
    """Where a service runs: the pods its selector picks, and its container's name."""

    namespace: str
    selector: str          # a label selector
    container: str


def running_pods(client: KubeClient, target: Target) -> list[str]:
    """Names of the target's pods that run and are not being deleted."""
    pods = client.list("pods", target.namespace, label_selector=target.selector)["items"]
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
            continue
        out.append(str(meta.get("name")))
    return sorted(out)


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
    """Copy and delete files in the target container of every pod."""
    data = archive(ops)
    gone = [op.container_path for op in ops if op.deleted or not os.path.lexists(op.host_path)]
    for pod in pods:
        if data:
            _run(client, target, pod, ["tar", "-x", "-f", "-", "-C", "/"], data,
                 "copying files failed (does the image have tar?)")
        if gone:
            _run(client, target, pod, ["rm", "-rf", "--", *gone], None,
                 "deleting files failed")


def run_command(client: KubeClient, target: Target, pod: str, command: Sequence[str]) -> bytes:
    """Run a ``sync+exec`` command; its output, or a ClusterError naming the exit code."""
    return _run(client, target, pod, list(command), None, f"`{' '.join(command)}` failed")


def _run(client: KubeClient, target: Target, pod: str, command: list[str],
         stdin: bytes | None, failure: str) -> bytes:
    try:
        code, output = client.exec(pod, target.namespace, command, container=target.container,
                                   stdin=stdin)
    except NotFound:
        return b""  # the pod went away meanwhile (a rollout): nothing to update in it
    if code != 0:
        text = output.decode(errors="replace").strip().splitlines()
        raise ClusterError(f"pod {pod}: {failure} (exit code {code})"
                           + (f": {text[-1]}" if text else ""))
    return output


def request_restart(client: KubeClient, target: Target, pods: Sequence[str]) -> None:
    """Ask the kubelet to restart each pod's containers in place."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch: dict[str, Any] = {"metadata": {"annotations": {RESTART_ANNOTATION: stamp}}}
    for pod in pods:
        try:
            client.patch("pods", pod, target.namespace, patch)
        except NotFound:
            continue
