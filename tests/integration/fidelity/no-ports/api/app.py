"""Answers GET /backend with what http://backend:8000/ says: `backend` has no ports in the
Compose file, so only its name makes it reachable."""

import http.server
import signal
import sys
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            with urllib.request.urlopen("http://backend:8000/", timeout=3) as answer:
                body, code = answer.read(), 200
        except OSError as error:
            body, code = f"unreachable: {error}\n".encode(), 502
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)


# As PID 1, Python would ignore SIGTERM: stop at once instead of waiting out the grace period.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
