"""An API server whose port another program holds fails with the bind's own error, and
leaves nothing behind (the daemon turns that error into the user's; tests/cli)."""

from __future__ import annotations

import errno
import socket
import threading
from pathlib import Path

import pytest

from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store


def test_a_taken_port_raises_the_bind_error_and_leaks_no_thread(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    store = Store(tmp_path / "s.db")
    monitors = _hangup_threads()
    try:
        with pytest.raises(OSError) as raised:
            ApiServer(store, "t", port)
        # Not AttributeError: server_close ran, on the failed bind, before the hang-up
        # monitor existed.
        assert raised.value.errno == errno.EADDRINUSE
        assert _hangup_threads() == monitors
    finally:
        holder.close()
        store.close()


def _hangup_threads() -> int:
    return sum(thread.name == "api-hangups" for thread in threading.enumerate())
