"""GET /setuid and /file-capability: the root-only /secret, read by a helper that gains the
privilege at exec (setuid root, or the file capability CAP_DAC_OVERRIDE)."""

import http.server
import signal
import subprocess
import sys

HELPERS = {"/setuid": "/usr/local/bin/python-suid",
           "/file-capability": "/usr/local/bin/python-fcap"}
READ = "import sys; sys.stdout.write(open('/secret').read())"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        helper = HELPERS.get(self.path)
        if helper is None:
            self.send_error(404)
            return
        done = subprocess.run([helper, "-c", READ], capture_output=True, text=True)
        ok = done.returncode == 0
        body = (done.stdout if ok else done.stderr.strip().splitlines()[-1] + "\n").encode()
        self.send_response(200 if ok else 500)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
