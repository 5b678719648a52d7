"""Exec and attach on any cluster, over WebSocket, as client-go's ``tools/remotecommand``.

The protocol is ``v5.channel.k8s.io`` (Kubernetes 1.30+), else ``v4.channel.k8s.io`` (what
older API servers relay to the kubelet): each message starts with its channel (0 stdin,
1 stdout, 2 stderr, 3 error, 4 resize). The error channel ends the session with a ``Status``:
``Success``, or ``NonZeroExitCode`` with the exit code in an ``ExitCode`` cause. Version 5
can also say "no more standard input" (``[255, 0]``); on a v4 server standard input ends
only with the connection, so a command must not wait for its end (``tar -x`` does not: it
stops at the archive's end).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from kompy.client import resources, upgrade, websocket
from kompy.client.errors import ApiError

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
CLOSE_SIGNAL = 255
CHUNK = 64 * 1024


class RemoteProcess:
    """A command (or a container's main process) in a pod, its standard streams open."""

    def __init__(self, ws: websocket.WebSocket, command: Sequence[str]) -> None:
        self.ws = ws
        self.command = list(command)
        self.can_close_stdin = ws.subprotocol == V5
        self._status = bytearray()
        self._ended = False

    def read(self, timeout: float | None = None) -> tuple[int, bytes] | None:
        """The next output, ``(STDOUT or STDERR, bytes)``; None once the session ended.
        TimeoutError when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ended:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            message = self.ws.receive(left)
            if message is None and not self.ws.closed:
                raise TimeoutError(f"no output from `{' '.join(self.command)}` in {timeout} s")
            if message is None:
                self._ended = True
                break
            if not message:
                continue
            channel, data = message[0], message[1:]
            if channel in (STDOUT, STDERR) and data:
                return channel, data
            if channel == ERROR:
                self._status += data
        return None

    def write(self, data: bytes) -> None:
        """Standard input (the session must have been opened with ``stdin``)."""
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            self.ws.send(bytes([STDIN]) + view[start:start + CHUNK])

    def close_stdin(self) -> None:
        """End standard input (v5); a v4 server learns it only when the connection ends."""
        if self.can_close_stdin:
            self.ws.send(bytes([CLOSE_SIGNAL, STDIN]))

    def resize(self, width: int, height: int) -> None:
        self.ws.send(bytes([RESIZE]) + json.dumps({"Width": width, "Height": height}).encode())

    def wait(self) -> int:
        """Read to the end (dropping output not read yet); the exit code. An ApiError when
        the server reports a failure other than an exit code."""
        while self.read() is not None:
            pass
        self.close()
        return exit_code(bytes(self._status), self.command)

    def close(self) -> None:
        self.ws.close()
        self.ws.wait_closed(5.0)


def exit_code(status: bytes, command: Sequence[str] = ()) -> int:
    """The exit code a session's status reports (nothing at all is a success)."""
    if not status.strip():
        return 0
    try:
        body: Any = json.loads(status)
    except ValueError:
        raise ApiError(500, "InternalError", status.decode(errors="replace")) from None
    if not isinstance(body, dict) or body.get("status") == "Success":
        return 0
    if body.get("reason") == "NonZeroExitCode":
        for cause in (body.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message"))
                except (TypeError, ValueError):
                    break
    raise ApiError(int(body.get("code") or 500), str(body.get("reason") or "InternalError"),
                   str(body.get("message") or f"`{' '.join(command)}` failed"), body=body)


def open_exec(client: upgrade.Client, pod: str, namespace: str, command: Sequence[str], *,
              container: str | None = None, stdin: bool = False, stdout: bool = True,
              stderr: bool = True, tty: bool = False) -> RemoteProcess:
    """Start ``command`` in the pod's container (``pods/exec``)."""
    params = [("command", c) for c in command]
    return _open(client, pod, namespace, "exec", params, container, stdin, stdout, stderr, tty,
                 command)


def open_attach(client: upgrade.Client, pod: str, namespace: str, *,
                container: str | None = None, stdin: bool = False, tty: bool = False
                ) -> RemoteProcess:
    """Attach to the main process of the pod's container (``pods/attach``)."""
    return _open(client, pod, namespace, "attach", [], container, stdin, True, not tty, tty, ())


def _open(client: upgrade.Client, pod: str, namespace: str, subresource: str,
          params: list[tuple[str, str]], container: str | None, stdin: bool, stdout: bool,
          stderr: bool, tty: bool, command: Sequence[str]) -> RemoteProcess:
    for name, on in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr and not tty),
                     ("tty", tty)):
        if on:
            params.append((name, "true"))
    if container:
        params.append(("container", container))
    path = resources.lookup("pods").path(namespace, pod, subresource)
    ws = upgrade.open_websocket(client, path, params, (V5, V4), name=subresource)
    return RemoteProcess(ws, command)


def run(client: upgrade.Client, pod: str, namespace: str, command: Sequence[str], *,
        container: str | None = None, stdin: bytes | None = None) -> tuple[int, bytes]:
    """Run ``command`` to its end: (exit code, standard output and error as they came)."""
    process = open_exec(client, pod, namespace, command, container=container,
                        stdin=stdin is not None)
    try:
        if stdin is not None:
            # In its own thread: a command that answers while it reads (cat) would otherwise
            # block on its output while we block on its input.
            def feed() -> None:
                with contextlib.suppress(websocket.WebSocketError):
                    if stdin:
                        process.write(stdin)
                    process.close_stdin()
            threading.Thread(target=feed, name="exec-stdin", daemon=True).start()
        output = bytearray()
        while (item := process.read()) is not None:
            output += item[1]
        return process.wait(), bytes(output)
    finally:
        process.close()
