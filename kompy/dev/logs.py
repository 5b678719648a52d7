"""The logs of a namespace's pods, interleaved and prefixed as ``docker compose up`` shows them.

A watch on the namespace's pods starts one follower per running container (``logs -f``
through the API); a container that starts again (a crash, an in-place restart) or a new pod
of a rollout gets a new follower, which skips what was already shown. Nothing polls.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

from kompy.client import KubeClient
from kompy.errors import KompyError

SERVICE_LABEL = "app.kubernetes.io/name"
# Colours cycled over services when the output is a terminal (as Compose does).
_COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


class LogStreamer:
    def __init__(self, client: KubeClient, namespace: str, out: TextIO,
                 stop: threading.Event) -> None:
        self.client = client
        self.namespace = namespace
        self.out = out
        self.stop = stop
        self._lock = threading.Lock()
        self._following: set[tuple[str, str, str]] = set()  # (pod, container, started at)
        self._colours: dict[str, str] = {}
        self._colour = out.isatty() if hasattr(out, "isatty") else False
        self._thread = threading.Thread(target=self._watch, name="dev-logs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                for _kind, pod in self.client.watch("pods", self.namespace, timeout_seconds=30):
                    if self.stop.is_set():
                        return
                    self._follow_new(pod)
            except KompyError:
                self.stop.wait(1.0)

    def _follow_new(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        name = str(meta.get("name"))
        service = str((meta.get("labels") or {}).get(SERVICE_LABEL) or name)
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            started = ((status.get("state") or {}).get("running") or {}).get("startedAt")
            if not started:
                continue
            key = (name, str(status.get("name")), f"{status.get('containerID')}@{started}")
            with self._lock:
                if key in self._following:
                    continue
                # The same container started again shows its earlier output too: skip it.
                again = any(k[:2] == key[:2] for k in self._following)
                self._following.add(key)
            prefix = self._prefix(service, name)
            threading.Thread(target=self._follow, args=(name, key[1], prefix, again),
                             name=f"dev-log-{name}", daemon=True).start()

    def _follow(self, pod: str, container: str, prefix: str, only_new: bool) -> None:
        pending = b""
        try:
            for chunk in self.client.logs(pod, self.namespace, container, follow=True,
                                          tail_lines=0 if only_new else None):
                if self.stop.is_set():
                    return
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                self._write(prefix, lines)
        except KompyError:
            return  # the pod went away
        if pending:
            self._write(prefix, [pending])

    def _write(self, prefix: str, lines: list[bytes]) -> None:
        text = "".join(f"{prefix}{line.decode(errors='replace')}\n" for line in lines)
        with self._lock:
            self.out.write(text)
            self.out.flush()

    def _prefix(self, service: str, pod: str) -> str:
        """``web-x2x9k | ``: the service and the pod's random suffix, coloured per service."""
        suffix = pod.rsplit("-", 1)[-1] if pod != service else ""
        label = f"{service}-{suffix}" if suffix else service
        if not self._colour:
            return f"{label} | "
        colour = self._colours.setdefault(service, _COLOURS[len(self._colours) % len(_COLOURS)])
        return f"\033[{colour}m{label} |\033[0m "
