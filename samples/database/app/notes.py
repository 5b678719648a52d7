"""Notes API: POST /notes stores the body, GET /notes lists every note, from the database."""

import json
import signal
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from resp import Redis

db = Redis()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        if self.path == "/notes":
            notes = db.call("LRANGE", "notes", 0, -1) or []
            return self.reply(200, {"notes": notes, "served_by": socket.gethostname()})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path == "/notes":
            length = int(self.headers.get("Content-Length") or 0)
            note = self.rfile.read(length).decode()
            if not note:
                return self.reply(400, {"error": "empty note"})
            count = db.call("RPUSH", "notes", note)
            return self.reply(201, {"count": count})
        self.reply(404, {"error": "not found"})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)



def stop(signum, frame):
    # As PID 1 a process gets no default SIGTERM handling: without this, every stop waits
    # out the whole grace period and then gets SIGKILL.
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    print("notes listening on :8000", flush=True)
    ThreadingHTTPServer(("", 8000), Handler).serve_forever()
