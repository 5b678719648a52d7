"""Processes of the in-memory engine (fake.py) with their standard streams open.

A test plays the process: the backend's ``stream_handler`` runs in a thread with the
:class:`FakeProcess`, reads what arrives on standard input (``stdin_chunks``), writes output
(``emit``) and returns the exit code (None for an attached main process). The default
handler echoes its input for ``cat`` and otherwise answers with the backend's
``exec_handler`` once standard input has ended.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from kompy.cluster.kubelet.backend import ContainerInfo

ExecHandler = Callable[[ContainerInfo, list[str]], tuple[int, bytes]]
StreamHandler = Callable[[ContainerInfo | None, list[str], "FakeProcess"], "int | None"]


class FakeProcess:
    """:class:`kompy.cluster.kubelet.backend.ProcessStreams` of a fake process."""

    def __init__(self, command: list[str], stdin: bool, tty: bool) -> None:
        self.command = command
        self.stdin_open = stdin
        self.tty = tty
        self.resizes: list[tuple[int, int]] = []
        self.closed = threading.Event()
        self._stdin: queue.Queue[bytes | None] = queue.Queue()
        self._out: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
        self._code: int | None = None
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        if not stdin:
            self._stdin.put(None)

    def start(self, handler: StreamHandler, info: ContainerInfo | None = None) -> FakeProcess:
        def run() -> None:
            try:
                self._code = handler(info, self.command, self)
            except Exception as error:  # noqa: BLE001 - re-raised by wait(), as an engine's
                self._error = error
            finally:
                self._out.put(None)
        self._thread = threading.Thread(target=run, name="fake-process", daemon=True)
        self._thread.start()
        return self

    # -- the process's side ------------------------------------------------------------------
    def stdin_chunks(self) -> Iterator[bytes]:
        while (chunk := self._stdin.get()) is not None:
            yield chunk

    def emit(self, fd: int, data: bytes) -> None:
        self._out.put((1 if self.tty else fd, data))

    # -- ProcessStreams ----------------------------------------------------------------------
    def read(self) -> tuple[int, bytes] | None:
        return self._out.get()

    def write(self, data: bytes) -> None:
        self._stdin.put(data)

    def close_stdin(self) -> None:
        self._stdin.put(None)

    def resize(self, width: int, height: int) -> None:
        self.resizes.append((width, height))

    def wait(self) -> int | None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._code

    def close(self) -> None:
        self.closed.set()
        self._stdin.put(None)


def default_handler(exec_handler: ExecHandler) -> StreamHandler:
    def handle(info: ContainerInfo | None, command: list[str], process: FakeProcess
               ) -> int | None:
        if command == ["cat"]:
            for chunk in process.stdin_chunks():
                process.emit(1, chunk)
            return 0
        for _ in process.stdin_chunks():
            pass
        assert info is not None, "the fake engine names the container"
        code, output = exec_handler(info, command)
        if output:
            process.emit(1, output)
        return code
    return handle
