"""An API that shows where its configuration came from without ever revealing a secret."""

import configparser
import hashlib
import json
import os
import signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRETS_DIR = "/run/secrets"


def settings():
    parser = configparser.ConfigParser()
    parser.read(os.environ.get("SETTINGS_FILE", "/etc/api/settings.ini"))
    return {section: dict(parser[section]) for section in parser.sections()}


def secret_facts():
    facts = {}
    for name in sorted(os.listdir(SECRETS_DIR)) if os.path.isdir(SECRETS_DIR) else []:
        with open(os.path.join(SECRETS_DIR, name), "rb") as handle:
            value = handle.read().strip()
        facts[name] = {"length": len(value), "sha256": hashlib.sha256(value).hexdigest()[:12]}
    return facts


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        if self.path == "/config":
            motd = None
            if os.path.exists("/motd"):
                with open("/motd") as handle:
                    motd = handle.read()
            return self.reply(200, {"settings": settings(), "mode": os.environ.get("API_MODE"),
                                    "motd": motd})
        if self.path == "/secrets":
            return self.reply(200, secret_facts())
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
    print("api listening on :8000", flush=True)
    ThreadingHTTPServer(("", 8000), Handler).serve_forever()
