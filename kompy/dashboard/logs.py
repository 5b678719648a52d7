"""A pod container's log as the page reads it: the API's log endpoint (PodLogOptions), the
stream's response kept so the page's going away can close it from the server's loop."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kompy.client import KubeClient, resources
from kompy.dashboard.rows import valid_name
from kompy.dashboard.streams import split_lines

TAIL_LINES = 1000   # as a terminal's scrollback: older lines are a `kompy logs` away


@dataclass(frozen=True)
class LogRequest:
    namespace: str
    pod: str
    container: str = ""
    previous: bool = False
    follow: bool = True

    def valid(self) -> bool:
        """Names only: they become the API path of the log."""
        return valid_name(self.namespace) and valid_name(self.pod) and (
            not self.container or valid_name(self.container))

    def params(self) -> dict[str, str]:
        params = {"tailLines": str(TAIL_LINES)}
        if self.container:
            params["container"] = self.container
        if self.previous:
            params["previous"] = "true"    # the last terminated container: never followed
        elif self.follow:
            params["follow"] = "true"
        return params


def opener(client: KubeClient, want: LogRequest
           ) -> Callable[[], tuple[Callable[[], None], Iterator[str]]]:
    def open_stream() -> tuple[Callable[[], None], Iterator[str]]:
        path = resources.lookup("pods").path(want.namespace, want.pod, "log")
        response = client.request("GET", path, params=want.params(), stream=True,
                                  timeout=None if want.follow else client.timeout)
        chunks = response.iter_content(chunk_size=None)
        return (lambda: abort(response)), split_lines(chunks)
    return open_stream


def abort(response: Any) -> None:
    """End a streaming response that another thread is blocked reading, without blocking.

    ``close()`` waits for the reader (the TLS socket's lock) until the next bytes come, which
    for a quiet followed log is never: shutting the socket down wakes the reader with an
    error at once; the close then runs on a thread of its own.
    """
    connection = getattr(getattr(response, "raw", None), "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    threading.Thread(target=response.close, name="dashboard-log-close", daemon=True).start()
