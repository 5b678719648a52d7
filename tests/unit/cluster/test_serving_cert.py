"""The API server's serving certificate: signed by the cluster's CA (what kubeconfigs and
pods' ca.crt trust), naming loopback, the ``kubernetes`` Service's names and its IP."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from kompy.cluster.apiserver.tls import ensure_certificate, issue_serving
from kompy.errors import ClusterError


def test_the_serving_certificate_names_the_service_and_chains_to_the_ca(tmp_path: Path) -> None:
    ca = ensure_certificate(tmp_path)
    assert ca is not None
    cert_path, key_path = issue_serving(tmp_path, ca, ["10.213.0.9"])
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    leaf = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    authority = x509.load_pem_x509_certificate(ca[0].read_bytes())
    leaf.verify_directly_issued_by(authority)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1", "10.213.0.9"}
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("10.213.0.9") in names.get_values_for_type(x509.IPAddress)


def test_a_client_trusting_the_ca_accepts_it_for_the_service_ip(tmp_path: Path) -> None:
    """A TLS handshake as an in-cluster client makes it: CA file, hostname = the IP."""
    ca = ensure_certificate(tmp_path)
    assert ca is not None
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*map(str, issue_serving(tmp_path, ca, ["127.0.0.1"])))
    client_ctx = ssl.create_default_context(cafile=str(ca[0]))
    client_ctx.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.getpeercert()["subject"] == ((("commonName", "kube-apiserver"),),)
            tls.send(b"x")
        thread.join(5)


def test_handshakes_never_fail_while_the_certificate_is_reloaded(tmp_path: Path) -> None:
    """A reload (the kubernetes Service got an address) swaps a whole context: loading into
    the live one left a moment with the new certificate and no key, and a handshake then
    failed with 'handshake failure' (seen in CI: kompy cluster cert refused by the API), and
    under this test's pressure the process crashed."""
    from kompy.cluster.apiserver.server import ApiHTTPServer

    ca = ensure_certificate(tmp_path)
    assert ca is not None
    pairs = []
    for name, ip in (("a", "10.213.0.1"), ("b", "10.213.0.2")):
        (tmp_path / name).mkdir()
        pairs.append(issue_serving(tmp_path / name, ca, [ip]))
    server = ApiHTTPServer(router=None, tls=pairs[0])  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()

    def reload() -> None:
        turn = 0
        while not stop.is_set():
            turn += 1
            server.reload_certificate(pairs[turn % 2])
    reloader = threading.Thread(target=reload, daemon=True)
    reloader.start()
    client_ctx = ssl.create_default_context(cafile=str(ca[0]))
    failures = []
    try:
        for _ in range(300):
            with socket.create_connection(server.server_address[:2], timeout=5) as raw:
                try:
                    client_ctx.wrap_socket(raw, server_hostname="127.0.0.1").close()
                except ssl.SSLError as error:
                    failures.append(str(error))
    finally:
        stop.set()
        reloader.join(5)
        server.shutdown()
        server.server_close()
    assert failures == []


def test_a_damaged_ca_is_the_users_error_with_the_way_out(tmp_path: Path) -> None:
    """It was the daemon's traceback (cryptography's ValueError), repeated by the start as
    'exited at start: ValueError: Unable to load PEM file. See https://...'."""
    ca = ensure_certificate(tmp_path)
    assert ca is not None
    ca[0].write_text("garbage\n")
    with pytest.raises(ClusterError) as raised:
        issue_serving(tmp_path, ca, [])
    assert raised.value.message == (f"the cluster's CA (tls.crt, tls.key in {tmp_path}) "
                                    "cannot be read: Unable to load PEM file")
    assert raised.value.exit_code == 2
    ca[0].unlink()
    ca[1].unlink()
    made = ensure_certificate(tmp_path)      # the way out the hint gives: a new CA
    assert made is not None
    issue_serving(tmp_path, made, [])
