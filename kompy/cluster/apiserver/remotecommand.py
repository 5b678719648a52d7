"""Exec and attach sessions: a process's standard streams carried over a client connection.

What the kubelet's streaming server and kube-apiserver's stream translator do
(k8s.io/apiserver/pkg/util/proxy/streamtranslator.go, k8s.io/kubelet/pkg/cri/streaming/
remotecommand): output goes to the client as it comes, standard input and terminal sizes
come back, and when the output ends the exit status is reported on the error stream as a
``Status``: ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and an ``ExitCode``
cause (remotecommand protocol v4 and later; earlier versions carry an error as plain text).

The transport (a WebSocket's channels, or SPDY streams) is behind :class:`Transport`, so the
one session logic serves both.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from kompy.cluster.kubelet.backend import ProcessStreams

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)


@dataclass(frozen=True)
class Options:
    """PodExecOptions / PodAttachOptions: which streams the client asked for."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    command: tuple[str, ...] = ()

    @classmethod
    def parse(cls, query: dict[str, list[str]]) -> Options:
        def flag(name: str) -> bool:
            return (query.get(name) or ["false"])[-1].lower() in ("true", "1")
        tty = flag("tty")
        # With a TTY, the terminal merges standard error into standard output (kubelet:
        # "stderr is not supported when tty is true").
        return cls(stdin=flag("stdin"), stdout=flag("stdout"), stderr=flag("stderr") and not tty,
                   tty=tty, command=tuple(query.get("command") or ()))


class Transport(Protocol):
    def send(self, stream: int, data: bytes) -> None:
        """Output for the client on STDOUT or STDERR; raises OSError once it is gone."""
        ...

    def incoming(self) -> Iterator[tuple[int, bytes | None]]:
        """What the client sends: ``(STDIN, data)``, ``(STDIN, None)`` at the end of its
        input, ``(RESIZE, json)``; ends when the client is gone."""
        ...

    def finish(self, status: dict[str, Any]) -> None:
        """Report the status on the error stream and end the session."""
        ...


def success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: tuple[str, ...]) -> dict[str, Any]:
    """What kube-apiserver reports for a command that exited non-zero
    (streamtranslator.go, codeExitToStatusError)."""
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"{list(command)}: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_error(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]},
            "code": 500}


def terminal_size(data: bytes) -> tuple[int, int] | None:
    """``{"Width": 80, "Height": 24}`` (remotecommand.TerminalSize) -> (80, 24)."""
    try:
        size = json.loads(data)
        return int(size.get("Width") or 0), int(size.get("Height") or 0)
    except (ValueError, AttributeError, TypeError):
        return None


def run(process: ProcessStreams, transport: Transport, options: Options) -> None:
    """Carry the process's streams until its output ends; then report how it ended."""
    inbound = threading.Thread(target=_pump_input, args=(process, transport, options),
                               name="exec-input", daemon=True)
    inbound.start()
    status: dict[str, Any]
    try:
        client_gone = False
        while (item := process.read()) is not None:
            stream, data = item
            wanted = options.stdout if stream == STDOUT else options.stderr
            if not wanted or client_gone:
                continue   # read on all the same, so the process never blocks on a full pipe
            try:
                transport.send(stream, data)
            except OSError:
                client_gone = True
                process.close_stdin()
        code = process.wait()
        status = success() if not code else exit_status(code, options.command)
    except Exception as error:  # noqa: BLE001 - reported to the client, as the kubelet does
        log.debug("exec session failed", exc_info=True)
        status = internal_error(f"error executing command in container: {error}")
    finally:
        process.close()
    transport.finish(status)


def _pump_input(process: ProcessStreams, transport: Transport, options: Options) -> None:
    try:
        for stream, data in transport.incoming():
            if stream == STDIN and options.stdin:
                if data is None:
                    process.close_stdin()
                else:
                    process.write(data)
            elif stream == RESIZE and options.tty and data:
                size = terminal_size(data)
                if size:
                    process.resize(*size)
    except OSError:
        pass   # the process is gone: its output end will tell
    except Exception:  # noqa: BLE001 - a failing resize or write must not kill the session
        log.debug("exec input failed", exc_info=True)
    finally:
        # The client is gone (clients close only after the status): let go of the process,
        # which ends the output pump. Like the kubelet, the process itself is not killed.
        with contextlib.suppress(OSError):
            process.close()
