"""An HTTP server whose requests cost CPU: GET /burn?ms=N spins for N milliseconds.

The HorizontalPodAutoscaler sample's workload (compose.yaml): the standard library only, one
thread per request, so concurrent requests use more than one core when the container may.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT = 8080
DEFAULT_MS = 100
MAX_MS = 5000


def burn(milliseconds: int) -> int:
    """Spin for ``milliseconds`` of wall-clock time; the number of loop rounds."""
    deadline = time.monotonic() + milliseconds / 1000
    rounds = 0
    while time.monotonic() < deadline:
        rounds += sum(i * i for i in range(200)) and 1
    return rounds


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        url = urlsplit(self.path)
        if url.path == "/burn":
            wanted = parse_qs(url.query).get("ms", [str(DEFAULT_MS)])[0]
            milliseconds = min(MAX_MS, int(wanted)) if wanted.isdigit() else DEFAULT_MS
            body = f"burned {milliseconds} ms ({burn(milliseconds)} rounds)\n".encode()
        else:
            body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass   # one line a request would drown the pod's log


if __name__ == "__main__":
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
