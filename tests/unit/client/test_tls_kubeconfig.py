"""A kubeconfig's TLS settings on the wire, for requests and streams alike: a client
certificate (files and ``-data``) presented to a server that requires one, the cluster's
CA checked, and ``insecure-skip-tls-verify``. The server is a small HTTPS server of the
test that asks for a client certificate signed by its CA and answers every request with a
Status naming the certificate's subject (a WebSocket upgrade too: refused with that Status,
which proves the handshake carried the certificate)."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from kompy.client import ApiError, KubeClient, upgrade  # noqa: E402
from kompy.errors import ClusterError  # noqa: E402


def _issue(subject: str, issuer: tuple[x509.Certificate, Any] | None, *, ca: bool = False,
           ip: str | None = None) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer[0].subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1))
               .not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        import ipaddress

        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _pem(cert: x509.Certificate, key: Any) -> tuple[bytes, bytes]:
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:   # noqa: N802 - http.server's name
        peer = self.connection.getpeercert()
        subject = dict(x[0] for x in peer["subject"])["commonName"]
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "code": 403, "reason": "Forbidden",
                           "message": f"certificate of {subject}"}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("pki")
    ca = _issue("test-ca", None, ca=True)
    files = {}
    for name, (cert, key) in {"ca": ca, "server": _issue("server", ca, ip="127.0.0.1"),
                              "client": _issue("jane", ca)}.items():
        crt, pem = _pem(cert, key)
        (folder / f"{name}.crt").write_bytes(crt)
        (folder / f"{name}.key").write_bytes(pem)
        files[name] = (folder / f"{name}.crt", folder / f"{name}.key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["ca"][0])
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(*files["server"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"files": files, "url": f"https://127.0.0.1:{server.server_address[1]}",
           "folder": folder}
    server.shutdown()


def _client(pki: dict[str, Any], cluster: str, user: str) -> KubeClient:
    config = pki["folder"] / f"config-{abs(hash((cluster, user)))}"
    extra = f", {cluster}" if cluster else ""
    config.write_text(f"""
apiVersion: v1
kind: Config
current-context: c
clusters: [{{name: k, cluster: {{server: "{pki['url']}"{extra}}}}}]
users: [{{name: u, user: {{{user}}}}}]
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
""")
    return KubeClient.from_kubeconfig(str(config))


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _both_reach_the_server(client: KubeClient) -> None:
    """A request and a WebSocket upgrade each reach the server with the certificate."""
    with pytest.raises(ApiError, match="certificate of jane"):
        client.get("configmaps", "x", "default")
    with pytest.raises(ApiError, match="certificate of jane"):
        upgrade.open_websocket(client, "/api/v1/namespaces/default/pods/a/exec",
                               [("command", "true")], ["v5.channel.k8s.io"])


def test_client_certificate_files_and_the_clusters_ca(pki: dict[str, Any]) -> None:
    ca, (crt, key) = pki["files"]["ca"][0], pki["files"]["client"]
    _both_reach_the_server(_client(pki, f"certificate-authority: {ca}",
                                   f"client-certificate: {crt}, client-key: {key}"))


@pytest.mark.filterwarnings("error")   # kubectl says nothing about an insecure server either
def test_client_certificate_data_and_insecure_skip_tls_verify(pki: dict[str, Any]) -> None:
    crt, key = pki["files"]["client"]
    _both_reach_the_server(_client(pki, "insecure-skip-tls-verify: true",
                                   f"client-certificate-data: {_b64(crt)}, "
                                   f"client-key-data: {_b64(key)}"))


def test_without_the_ca_or_the_certificate_nothing_gets_through(pki: dict[str, Any]) -> None:
    ca, (crt, key) = pki["files"]["ca"][0], pki["files"]["client"]
    unknown_ca = _client(pki, "", f"client-certificate: {crt}, client-key: {key}")
    with pytest.raises(ClusterError, match="certificate verify failed"):
        unknown_ca.get("configmaps", "x", "default")
    with pytest.raises(ClusterError, match="certificate verify failed|TLS failed"):
        upgrade.open_websocket(unknown_ca, "/api/v1/namespaces/default/pods/a/exec",
                               [("command", "true")], ["v5.channel.k8s.io"])
    no_certificate = _client(pki, f"certificate-authority: {ca}", "token: t")
    with pytest.raises(ClusterError) as refused:
        no_certificate.get("configmaps", "x", "default")
    assert "certificate of" not in str(refused.value)
