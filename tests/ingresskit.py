"""Helpers of the Ingress tests (unit and integration): HTTP(S) requests to 127.0.0.1 with the
Host header and SNI name of a made-up host (what ``curl --resolve shop.local:443:127.0.0.1``
does), and the echo sample's server for in-process backends."""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import ssl
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "samples" / "ingress" / "echo" / "echo.py"


class ResolvedHTTPS(http.client.HTTPSConnection):
    """HTTPS to ``address`` for a host name that does not resolve: SNI and certificate
    checks use the name, the TCP connection goes to the address."""

    def __init__(self, host: str, port: int, *, address: str = "127.0.0.1", **kw: Any) -> None:
        super().__init__(host, port, **kw)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def context(ca: Path | None) -> ssl.SSLContext:
    """Trusting ``ca`` (checked names), or trusting anything when None."""
    if ca is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=str(ca))


def connection(port: int, host: str, https: bool = False, ca: Path | None = None,
               timeout: float = 10.0) -> http.client.HTTPConnection:
    if https:
        return ResolvedHTTPS(host, port, context=context(ca), timeout=timeout)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn._kompy_host = host  # type: ignore[attr-defined]
    return conn


def request(conn: http.client.HTTPConnection, path: str = "/", method: str = "GET",
            body: bytes | None = None, headers: dict[str, str] | None = None,
            host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers in lower case, body) of one request on ``conn`` (kept alive)."""
    sent = dict(headers or {})
    name = host or getattr(conn, "_kompy_host", None) or conn.host
    sent.setdefault("Host", name if conn.port in (80, 443) else f"{name}:{conn.port}")
    conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def get(port: int, host: str, path: str = "/", https: bool = False, ca: Path | None = None,
        **kw: Any) -> tuple[int, dict[str, str], bytes]:
    conn = connection(port, host, https, ca)
    try:
        return request(conn, path, **kw)
    finally:
        conn.close()


def echo_json(body: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(body)
    return found


def echo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kompy_sample_echo", ECHO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class EchoServer:
    """The echo sample serving on 127.0.0.1 in a thread (HTTPS with cert and key files)."""

    def __init__(self, cert: Path | None = None, key: Path | None = None,
                 idle_timeout: float | None = None) -> None:
        module = echo_module()
        self.server = module.make_server(0, str(cert) if cert else None,
                                         str(key) if key else None, host="127.0.0.1")
        if idle_timeout is not None:
            self.server.RequestHandlerClass.timeout = idle_timeout
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
