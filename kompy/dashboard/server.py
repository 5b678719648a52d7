"""``kompy dashboard``: watch the cluster, serve the pages on 127.0.0.1, print the login URL.

uvicorn (the ASGI server, over h11) serves a socket bound here to the loopback address only;
port 0 picks a free port, which the printed URL names.
"""

from __future__ import annotations

import logging
import socket
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from kompy.client import KubeClient
from kompy.dashboard.app import build_app
from kompy.dashboard.auth import Gate, allowed_hosts
from kompy.dashboard.context import Dashboard
from kompy.dashboard.streams import Shutdown
from kompy.dashboard.watch import ClusterView
from kompy.errors import UserError

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SYNC_SECONDS = 30.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DashboardRequest:
    context: str                       # shown in the page's header
    port: int = DEFAULT_PORT
    open_browser: bool = True
    compose_files: tuple[str, ...] = ()
    project_directory: str | None = None
    kompy_home: Path | None = None


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        raise UserError(f"cannot listen on {HOST}:{port}: {error.strerror}",
                        hint="pick another port with --port N (0: any free port)") from None
    sock.listen(64)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, which on Ctrl-C first ends the dashboard's open streams."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown) -> None:
        super().__init__(config)
        self.streams = shutdown

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.streams.begin()
        super().handle_exit(sig, frame)


def serve(client: KubeClient, request: DashboardRequest, say: Callable[[str], None]) -> int:
    sock = bind(request.port)
    port = sock.getsockname()[1]
    view = ClusterView(client)
    view.start()
    if not view.wait_synced(SYNC_SECONDS):
        say("warning: some resources are not listed yet (is the API reachable, and may this "
            "user list them?); the pages fill in as they arrive")
    gate = Gate()
    dash = Dashboard(client, view, request.context, gate, request.compose_files,
                     request.project_directory, request.kompy_home)
    app = build_app(dash, allowed_hosts(port))
    url = f"http://{HOST}:{port}/login?token={gate.token}"
    say(f"kompy dashboard for {request.context} at http://{HOST}:{port}")
    say(f"open this URL to log in (it works once): {url}")
    say("press Ctrl+C to stop")
    if request.open_browser:
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            log.info("no browser to open; the URL above works in any")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    try:
        _Server(config, dash.shutdown).run(sockets=[sock])
    finally:
        view.close()
        sock.close()
    return 0
