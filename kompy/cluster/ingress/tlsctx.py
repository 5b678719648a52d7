"""TLS for the Ingress with Python's ``ssl``: contexts from PEM held in memory, the SNI
callback that picks a host's certificate, reading the SNI name of a connection without
terminating it (for passthrough), and client contexts towards re-encrypted backends.

``ssl`` loads certificates and keys only from files; the PEM goes through an anonymous
in-memory file (``memfd_create``; on systems without it a 0600 temporary file removed at
once), so private keys of Secrets never land on disk.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator

# The protocols ingress-nginx enables by default (ssl-protocols: TLSv1.2 TLSv1.3).
MIN_VERSION = ssl.TLSVersion.TLSv1_2
CLIENT_HELLO_MAX = 16384 + 5    # a TLS record: ClientHellos are one record in practice
NOT_TLS = "\0not-tls"           # what sniff_server_name says of a connection that is not TLS


@contextlib.contextmanager
def _pem_file(data: bytes) -> Iterator[str]:
    """A path that reads as ``data`` for as long as the block runs."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("kompy-pem", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="kompy-pem-")  # 0600
    try:
        os.write(fd, data)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server-side context serving this certificate chain (HTTP/1.1 by ALPN)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSION
    context.set_alpn_protocols(["http/1.1"])
    with _pem_file(cert_pem) as cert_path, _pem_file(key_pem) as key_path:
        context.load_cert_chain(cert_path, key_path)
    return context


def edge_context(default: ssl.SSLContext,
                 choose: Callable[[str | None], ssl.SSLContext | None]) -> ssl.SSLContext:
    """The context TLS connections start with: the default certificate, and an SNI callback
    that switches to the certificate ``choose`` gives for the name the client asked for."""

    def on_sni(sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
               _context: ssl.SSLContext) -> None:
        chosen = choose(server_name)
        if chosen is not None and chosen is not default:
            sslobj.context = chosen

    default.sni_callback = on_sni
    return default


def client_context(verify: bool, ca_pem: bytes | None = None, cert_pem: bytes | None = None,
                   key_pem: bytes | None = None) -> ssl.SSLContext:
    """A context towards a backend that speaks HTTPS: checking its certificate against
    ``ca_pem`` (and its name) only when ``verify``, as nginx's proxy_ssl_verify; presenting a
    client certificate when given one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = MIN_VERSION
    context.set_alpn_protocols(["http/1.1"])
    if verify:
        if ca_pem:
            context.load_verify_locations(cadata=ca_pem.decode("ascii", "replace"))
        else:
            context.load_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_pem and key_pem:
        with _pem_file(cert_pem) as cert_path, _pem_file(key_pem) as key_path:
            context.load_cert_chain(cert_path, key_path)
    return context


def sniff_server_name(sock: socket.socket, timeout: float) -> str | None:
    """The SNI name a TLS client sends in its ClientHello, read without consuming it (the
    bytes stay in the socket for whoever terminates or relays the stream): None when the
    client sent no name, NOT_TLS when the bytes are not TLS (or do not come in time).

    The ClientHello is parsed by OpenSSL itself: the bytes are fed to a server-side
    ``SSLObject`` whose SNI callback records the name and stops the handshake.
    """
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(CLIENT_HELLO_MAX, socket.MSG_PEEK)
            if not data or data[0] != 0x16:  # closed, or not a TLS handshake record
                return NOT_TLS
            verdict = _parse_hello(data)
            if verdict is not _MORE:
                return verdict  # type: ignore[return-value]
            if len(data) >= CLIENT_HELLO_MAX or time.monotonic() > deadline:
                return NOT_TLS
            # The rest of the ClientHello is on its way; peeked bytes keep the socket
            # readable, so wait a little rather than spin.
            time.sleep(0.002)
    except OSError:  # a timeout or a reset
        return NOT_TLS


_MORE = object()


def _record_name(sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> int:
    sslobj.kompy_server_name = [server_name]  # type: ignore[attr-defined]
    return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE  # stop here: only the name was wanted


_PROBE = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
_PROBE.sni_callback = _record_name


def _parse_hello(data: bytes) -> object:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = _PROBE.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(data)
    more = False
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        more = True
    except ssl.SSLError:
        pass
    found = getattr(obj, "kompy_server_name", None)
    if found is not None:
        return found[0]
    return _MORE if more else NOT_TLS
