"""An echo server for the Ingress samples: every request is answered with what the pod saw.

The answer is JSON: the pod's name and port, the method, path and headers that arrived (so the
X-Forwarded-* headers an Ingress adds show), whether the connection was TLS and which SNI
name the client asked for, and the size and SHA-256 of the body. A WebSocket upgrade is
accepted and the bytes that follow are echoed back as they are.

Plain HTTP on $PORT (8080); HTTPS when $TLS_CERT and $TLS_KEY name a certificate and key
(a TLS Secret mounted as files). On SIGTERM it stops accepting connections and finishes the
requests in flight, as a server behind a rolling update should.
"""

import base64
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POD = os.environ.get("HOSTNAME") or socket.gethostname()
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # an idle keep-alive connection is closed after 5 s
    # The head and the body leave in separate writes: without TCP_NODELAY every response
    # of a kept-alive connection would wait 40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.upgrade()
        else:
            self.answer(b"")

    def do_HEAD(self) -> None:
        self.answer(b"", head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.answer(self.rfile.read(length))

    do_PUT = do_POST
    do_DELETE = do_GET

    def answer(self, body: bytes, head: bool = False) -> None:
        data = json.dumps({
            "pod": POD, "port": self.server.server_address[1],
            "method": self.command, "path": self.path,
            "tls": isinstance(self.connection, ssl.SSLSocket),
            "sni": getattr(self.connection, "sni", None),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
        }, sort_keys=True).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def upgrade(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        self.connection.settimeout(60)
        while True:
            data = self.connection.recv(65536)
            if not data:
                break
            self.connection.sendall(data)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the pod's log


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close waits for the requests in flight
    block_on_close = True


def make_server(port: int, cert: str | None = None, key: str | None = None,
                host: str = "") -> Server:
    """The server, speaking HTTPS when given a certificate and key (files)."""
    server = Server((host, port), Handler)
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        # Remember the name the client asked for, to show that TLS reached the pod as sent.
        context.sni_callback = lambda sock, name, _ctx: setattr(sock, "sni", name)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    return server


def main() -> int:
    cert, key = os.environ.get("TLS_CERT"), os.environ.get("TLS_KEY")
    server = make_server(int(os.environ.get("PORT", "8080")), cert, key)
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"{POD}: serving {'HTTPS' if cert else 'HTTP'} on :{server.server_address[1]}",
          flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
