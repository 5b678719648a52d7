"""The API server's TLS certificate: self-signed, made once per cluster, kept in its state.

Why TLS on 127.0.0.1: kubectl and every client-go program send credentials only over TLS
(kubernetes/kubectl#744): over plain HTTP the bearer token is silently dropped and every
request is refused. The certificate is its own CA (``certificate-authority-data`` in the
kubeconfig), valid for 127.0.0.1 and localhost, with an EC P-256 key readable by its owner only.
Made with ``cryptography``; without it the server falls back to plain HTTP, which kompy's own
client handles (kubectl then cannot authenticate).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kompy.fsutil import write_atomic

if TYPE_CHECKING:  # imported where used: without cryptography the server serves plain HTTP
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

log = logging.getLogger(__name__)

VALID_DAYS = 3650


def ensure_certificate(state_dir: Path) -> tuple[Path, Path] | None:
    """(certificate, key) files in ``state_dir``, made on first use; None without TLS."""
    cert, key = state_dir / "tls.crt", state_dir / "tls.key"
    if cert.exists() and key.exists():
        return cert, key
    try:
        pem_cert, pem_key = _make()
    except ImportError:
        log.warning("the cryptography package is missing: serving plain HTTP (kubectl will "
                    "not send the token over it)")
        return None
    write_atomic(key, pem_key, mode=0o600)
    write_atomic(cert, pem_cert, mode=0o644)
    return cert, key


def _make() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kompy-{os.getpid()}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = _certificate(name, key, name, key, [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
        now + datetime.timedelta(days=VALID_DAYS), ca=True)
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def _certificate(subject: x509.Name, key: EllipticCurvePrivateKey, issuer: x509.Name,
                 issuer_key: EllipticCurvePrivateKey, names: list[x509.GeneralName],
                 not_after: datetime.datetime, *, ca: bool) -> x509.Certificate:
    """A certificate of the API server's for ``names`` (its subject alternative names),
    signed by ``issuer_key``: the self-signed CA that also serves (``ca``), or a serving
    certificate that CA issued. Both carry key identifiers: strict verifiers (Python 3.13's
    default context) require them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    return (
        builder
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem_key(key: EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# The names of the API server's Service inside the cluster (kube-apiserver's certificate
# carries the same): in-cluster clients check one of them, or the Service's cluster IP.
SERVICE_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local")


def issue_serving(state_dir: Path, ca: tuple[Path, Path], addresses: list[str]
                  ) -> tuple[Path, Path]:
    """A serving certificate signed by the cluster's CA (``ca``: certificate, key) for
    127.0.0.1, localhost, the ``kubernetes`` Service's names and ``addresses`` (its cluster
    IP): ``apiserver.crt`` (with the CA after it) and ``apiserver.key`` (0600). The CA stays
    the one kubeconfigs trust, so a new cluster IP never invalidates them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_pem = ca[0].read_bytes()
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(ca[1].read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    ips = {"127.0.0.1", *addresses}
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip))
                                     for ip in sorted(ips)]
    names += [x509.DNSName(n) for n in ("localhost", *SERVICE_NAMES)]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    cert = _certificate(subject, key, ca_cert.subject, ca_key, names,
                        ca_cert.not_valid_after_utc, ca=False)
    cert_path, key_path = state_dir / "apiserver.crt", state_dir / "apiserver.key"
    write_atomic(key_path, _pem_key(key), mode=0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM) + ca_pem, mode=0o644)
    return cert_path, key_path
