"""The web tier: counts visits in Redis, queues jobs for the worker, reports what it did."""

import json
import os
import signal
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from resp import Redis

redis = Redis()
GREETING = os.environ.get("GREETING", "hello")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        if self.path == "/":
            hits = redis.call("INCR", "hits")
            return self.reply(200, {"greeting": GREETING, "hits": hits,
                                    "served_by": socket.gethostname()})
        if self.path == "/jobs":
            done = redis.call("LRANGE", "done", 0, -1) or []
            return self.reply(200, {"done": done})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path == "/jobs":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() or "job"
            queued = redis.call("RPUSH", "queue", body)
            return self.reply(202, {"queued": queued})
        self.reply(404, {"error": "not found"})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if self.path != "/healthz":  # the probes ask every few seconds: keep the log readable
            print(f"{self.address_string()} {fmt % args}", flush=True)



def stop(signum, frame):
    # As PID 1 a process gets no default SIGTERM handling: without this, every stop waits
    # out the whole grace period and then gets SIGKILL.
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    port = int(os.environ.get("PORT", "8000"))
    print(f"web listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()
