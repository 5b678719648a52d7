"""Watches under abuse (issue #12, item 1): a watch held open costs no CPU, a client that
goes away frees its watch at once, and ``timeoutSeconds`` is honoured.

The server runs in this process (real HTTP on a random port), so its threads and CPU time
are this process's: the tests measure them directly.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from kompy.cluster.apiserver import handlers
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store

TOKEN = "test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[ApiServer]:
    """With the cluster's TLS, as kubectl talks to it."""
    from kompy.cluster.apiserver.tls import ensure_certificate

    srv = ApiServer(Store(tmp_path / "store.db"), TOKEN, tls=ensure_certificate(tmp_path)
                    ).start()
    yield srv
    srv.stop()


def connect(server: ApiServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if server.ca is None:
        return sock
    context = ssl.create_default_context(cafile=server.ca)
    return context.wrap_socket(sock, server_hostname="127.0.0.1")


def wait_until(what: str, probe: Callable[[], bool], timeout: float) -> float:
    """Poll ``probe`` until true; the seconds it took. Fails naming ``what``."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


class CpuOfNewWork:
    """This process's CPU time since it was made, less what the threads already running then
    (and still running at the end) took meanwhile: servers and informers that earlier tests
    left in this process must not count as the work under test."""

    def __init__(self) -> None:
        self.before = {t: time.clock_gettime(time.pthread_getcpuclockid(t.ident))
                       for t in threading.enumerate() if t.ident is not None}
        self.process = time.process_time()

    def used(self) -> float:
        others = sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) - start
                     for t, start in self.before.items()
                     if t.is_alive() and t.ident is not None)
        return time.process_time() - self.process - others


def watchers(server: ApiServer) -> int:
    return server.api.watching()


def test_a_watch_without_bookmarks_held_40_s_costs_no_cpu(server: ApiServer) -> None:
    """The bookmark deadline used to move only when bookmarks were asked for: 30 s into a
    watch without them the wait went negative and the thread spun at 100 % of a core."""
    cpu = CpuOfNewWork()
    started = time.monotonic()
    with requests.get(f"{server.url}/api/v1/configmaps?watch=true&timeoutSeconds=40",
                      headers=HEADERS, stream=True, timeout=120) as answer:
        assert answer.status_code == 200
        lines = [line for line in answer.iter_lines() if line]   # until the server ends it
    held = time.monotonic() - started
    used = cpu.used()
    assert lines == []
    # Ended by its timeout, not by the 30-60 minutes of the default one; a loaded machine
    # may be late to end it.
    assert 39.5 <= held < 100, f"timeoutSeconds=40 ended the watch after {held:.1f} s"
    # The server's threads only wait. A spinning watch burns a core for its last 10 s (less
    # of one on a loaded machine, but still seconds).
    assert used < 1.0, f"holding a watch for {held:.0f} s cost {used:.2f} s of CPU"


@pytest.mark.parametrize("transport", ["http", "tls"])
def test_fifty_abandoned_watches_are_gone_within_seconds(transport: str,
                                                         request: pytest.FixtureRequest
                                                         ) -> None:
    """A client that closes its socket ends its watch at once, without waiting for an
    event to write (there may be none for hours)."""
    server: ApiServer = request.getfixturevalue("server" if transport == "http"
                                                else "tls_server")
    baseline_threads = threading.active_count()
    sockets = []
    for _ in range(50):
        sock = connect(server)
        sock.sendall(b"GET /api/v1/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
        sockets.append(sock)
    wait_until("50 watches registered", lambda: watchers(server) == 50, 30)
    assert threading.active_count() >= baseline_threads + 50
    cpu = CpuOfNewWork()
    for sock in sockets:
        sock.close()
    # No event comes to write to them: a watch that noticed its client only then would
    # never end.
    wait_until("every abandoned watch ended", lambda: watchers(server) == 0, 20)
    wait_until("their threads gone",
               lambda: threading.active_count() <= baseline_threads, 20)
    used = cpu.used()
    assert used < 1.0, f"ending 50 watches cost {used:.2f} s of CPU"


def test_the_default_watch_timeout_is_kube_apiservers() -> None:
    """No timeoutSeconds (or 0): a random time between --min-request-timeout (1800 s) and
    twice that, so a fleet of watches does not reconnect at once. Given: as given."""
    chosen = {handlers.watch_timeout(None) for _ in range(50)} | {
        handlers.watch_timeout(0) for _ in range(50)}
    assert all(1800 <= t < 3600 for t in chosen) and len(chosen) > 10
    assert handlers.watch_timeout(5) == 5
    assert handlers.watch_timeout(7200) == 7200


def test_a_watch_with_a_bad_timeout_is_a_400_status(server: ApiServer) -> None:
    for value in ("abc", "1.5", "1e3", "99999999999999999999999"):
        answer = requests.get(f"{server.url}/api/v1/pods?watch=true&timeoutSeconds={value}",
                              headers=HEADERS, timeout=5)
        assert answer.status_code == 400, value
        assert answer.json()["kind"] == "Status" and answer.json()["reason"] == "BadRequest"
    # Empty is absent, as Go's parameter decoder has it: the default timeout.
    with requests.get(f"{server.url}/api/v1/pods?watch=true&timeoutSeconds=",
                      headers=HEADERS, stream=True, timeout=5) as answer:
        assert answer.status_code == 200


def test_a_short_timeout_ends_the_stream_in_time(server: ApiServer) -> None:
    started = time.monotonic()
    answer = requests.get(f"{server.url}/api/v1/pods?watch=true&timeoutSeconds=1",
                          headers=HEADERS, timeout=60)
    assert answer.status_code == 200
    # Not before its second, and long before the default timeout (30-60 minutes).
    assert 0.9 <= time.monotonic() - started < 30
