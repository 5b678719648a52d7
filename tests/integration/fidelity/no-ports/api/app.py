"""Answers GET /<name> with what http://<name>:8000/ says, for the names `backend` goes by:
its service name, the alias `api` gives it with `links`, and its network alias. `backend`
has no ports in the Compose file, so only these names make it reachable."""

import http.server
import signal
import sys
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.strip("/")
        if name not in ("backend", "linked-backend", "store"):
            self.send_error(404)
            return
        try:
            with urllib.request.urlopen(f"http://{name}:8000/", timeout=3) as answer:
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
