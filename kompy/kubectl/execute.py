"""``kompy exec`` and ``kompy attach``: a pod's process wired to this terminal, as kubectl's.

Through the API's ``pods/exec`` and ``pods/attach`` (kompy/client/remotecommand.py), so they
work on any cluster. ``-i`` passes standard input (its end reaches the process as EOF);
``-t`` asks for a terminal: this one goes into raw mode (keys, Ctrl-C included, go to the
remote process) and its size follows SIGWINCH. The exit status is the remote command's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kompy.client import KubeClient, remotecommand, websocket
from kompy.errors import UserError
from kompy.kubectl.commands import resolve_pod


@dataclass
class Console:
    """Where the local streams are; the CLI gives its own, tests theirs."""

    read_stdin: Callable[[], bytes]          # b"" at the end
    write_stdout: Callable[[bytes], None]
    write_stderr: Callable[[bytes], None]
    stdin_fd: int | None = None              # a terminal to put in raw mode, for -t
    stdout_fd: int | None = None             # a terminal whose size the remote follows


def system_console() -> Console:
    def read() -> bytes:
        fd = sys.stdin.fileno()
        return os.read(fd, 32768)

    def writer(stream: Any) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            stream.buffer.write(data)
            stream.buffer.flush()
        return write
    return Console(read, writer(sys.stdout), writer(sys.stderr), _fd(sys.stdin), _fd(sys.stdout))


def _fd(stream: Any) -> int | None:
    try:
        fd = int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return fd if os.isatty(fd) else None


def exec_(client: KubeClient, target: str, namespace: str | None, command: list[str], *,
          container: str | None, stdin: bool, tty: bool, console: Console) -> int:
    if not command:
        raise UserError("no command given", hint="kompy exec POD -- COMMAND [ARGS...]")
    pod = resolve_pod(client, target, namespace)
    process = remotecommand.open_exec(client, pod["metadata"]["name"],
                                      pod["metadata"]["namespace"], command,
                                      container=container, stdin=stdin, tty=tty)
    return interact(process, console, stdin=stdin, tty=tty)


def attach(client: KubeClient, target: str, namespace: str | None, *, container: str | None,
           stdin: bool, tty: bool, console: Console) -> int:
    pod = resolve_pod(client, target, namespace)
    process = remotecommand.open_attach(client, pod["metadata"]["name"],
                                        pod["metadata"]["namespace"], container=container,
                                        stdin=stdin, tty=tty)
    return interact(process, console, stdin=stdin, tty=tty)


def interact(process: remotecommand.RemoteProcess, console: Console, *, stdin: bool,
             tty: bool) -> int:
    """Carry the local streams to the process and back until it ends; its exit code."""
    with _resizing(process, console.stdout_fd if tty else None), \
            _raw(console.stdin_fd if tty and stdin else None):
        if stdin:
            threading.Thread(target=_feed, args=(process, console), daemon=True,
                             name="exec-stdin").start()
        while (item := process.read()) is not None:
            stream, data = item
            (console.write_stdout if stream == remotecommand.STDOUT
             else console.write_stderr)(data)
        return process.wait()


def _feed(process: remotecommand.RemoteProcess, console: Console) -> None:
    try:
        while chunk := console.read_stdin():
            process.write(chunk)
        process.close_stdin()
    except (OSError, websocket.WebSocketError):
        pass   # the session ended first


@contextlib.contextmanager
def _raw(fd: int | None) -> Iterator[None]:
    """The terminal in raw mode (as kubectl's term.SafeFunc), restored afterwards."""
    if fd is None:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _resizing(process: remotecommand.RemoteProcess, fd: int | None) -> Iterator[None]:
    """Send the terminal's size now and on each SIGWINCH (handlers live in the main thread
    only: elsewhere the size is sent once)."""
    if fd is None:
        yield
        return

    def send(*_: Any) -> None:
        with contextlib.suppress(OSError, websocket.WebSocketError):
            size = os.get_terminal_size(fd)
            process.resize(size.columns, size.lines)
    send()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGWINCH, send)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)
