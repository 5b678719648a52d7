"""Interactive processes in Docker containers: exec'd commands and attaching to a container,
with their standard streams open while they run (:class:`backend.ProcessStreams`).

The engine hands over the HTTP connection of ``exec start`` / ``attach`` (a "hijacked"
socket). Without a TTY the output arrives multiplexed, each frame behind an 8-byte header
(stream number, three zero bytes, big-endian length: Docker Engine API, "Attach to a
container", "Stream format"); with a TTY it is the terminal's raw bytes. Closing the write
half of the socket ends the process's standard input.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Any

from kompy.engine.connection import NoSuchObject, call

# After its output ends, an exec'd process may not be reaped yet: its exit code is asked for
# until this many seconds have passed.
EXIT_CODE_WAIT = 5.0


class DockerProcess:
    """:class:`kompy.cluster.kubelet.backend.ProcessStreams` on a hijacked engine socket."""

    def __init__(self, api: Any, handle: Any, tty: bool, *, exec_id: str | None = None,
                 container_id: str | None = None) -> None:
        self.api = api
        self._handle = handle                       # what the SDK returned; closed at the end
        self._sock: socket.socket = getattr(handle, "_sock", handle)
        self.tty = tty
        self.exec_id = exec_id
        self.container_id = container_id
        self._buffer = bytearray()
        self._write_lock = threading.Lock()
        self._closed = False

    def _recv(self) -> bytes:
        try:
            return self._sock.recv(65536)
        except OSError:
            return b""

    def read(self) -> tuple[int, bytes] | None:
        if self.tty:
            data = self._recv()
            return (1, data) if data else None
        while True:
            if len(self._buffer) >= 8:
                kind, size = struct.unpack(">BxxxL", self._buffer[:8])
                if len(self._buffer) >= 8 + size:
                    data = bytes(self._buffer[8:8 + size])
                    del self._buffer[:8 + size]
                    if kind in (1, 2):
                        return kind, data
                    continue                        # stdin echo (0) or unknown: skipped
            chunk = self._recv()
            if not chunk:
                return None
            self._buffer += chunk

    def write(self, data: bytes) -> None:
        with self._write_lock:
            self._sock.sendall(data)

    def close_stdin(self) -> None:
        with self._write_lock, contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def resize(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            return
        with contextlib.suppress(NoSuchObject):
            if self.exec_id is not None:
                call("resize exec", lambda: self.api.exec_resize(self.exec_id, height=height,
                                                                 width=width))
            elif self.container_id is not None:
                call("resize container", lambda: self.api.resize(self.container_id, height,
                                                                 width))

    def wait(self) -> int | None:
        if self.exec_id is None or self._closed:
            return None   # attached, or let go of before the end: no exit code to report
        what = f"exec {self.exec_id[:12]}"
        deadline = time.monotonic() + EXIT_CODE_WAIT
        while True:
            state = call(what, lambda: self.api.exec_inspect(self.exec_id))
            if not state.get("Running") and state.get("ExitCode") is not None:
                return int(state["ExitCode"])
            if time.monotonic() > deadline:
                return int(state.get("ExitCode") or -1)
            time.sleep(0.01)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._handle.close()


def exec_streams(api: Any, container_id: str, command: list[str], *, stdin: bool,
                 tty: bool) -> DockerProcess:
    what = f"exec in {container_id[:12]}"
    exec_id = call(what, lambda: api.exec_create(container_id, command, stdin=stdin,
                                                 stdout=True, stderr=True, tty=tty))["Id"]
    handle = call(what, lambda: api.exec_start(exec_id, socket=True, tty=tty))
    process = DockerProcess(api, handle, tty, exec_id=exec_id)
    if not stdin:
        process.close_stdin()
    return process


def attach_streams(api: Any, container_id: str, *, stdin: bool, tty: bool) -> DockerProcess:
    """The container's main process: its output from now on (``logs`` has the past), and its
    standard input when the container keeps it open (``stdin: true`` in the pod spec)."""
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
    handle = call(f"attach to {container_id[:12]}",
                  lambda: api.attach_socket(container_id, params=params))
    return DockerProcess(api, handle, tty, container_id=container_id)
