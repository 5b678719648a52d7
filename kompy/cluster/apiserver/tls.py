"""The API server's TLS certificate: self-signed, made once per cluster, kept in its state.

Why TLS on 127.0.0.1: kubectl and every client-go program send credentials only over TLS
(kubernetes/kubectl#744): over plain HTTP the bearer token is silently dropped and every
request is refused. The certificate is its own CA (``certificate-authority-data`` in the
kubeconfig), valid for 127.0.0.1 and localhost, with an EC P-256 key readable by its owner only.
Made with ``cryptography``; without it the server falls back to plain HTTP, which kompy's own
client handles (kubectl then cannot authenticate).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from kompy.errors import ClusterError
from kompy.fsutil import write_atomic

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
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from kompy.cluster import certificates

    key = certificates.new_key()
    cert = certificates.build(
        certificates.name(f"kompy-{os.getpid()}"), key, certificates.days_from_now(VALID_DAYS),
        hosts=["127.0.0.1", "localhost"], ca=True,
        usages=["digital_signature", "key_cert_sign"],
        extended=[ExtendedKeyUsageOID.SERVER_AUTH])
    return certificates.pem(cert), certificates.pem_key(key)


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
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from kompy.cluster import certificates

    ca_pem, ca_cert, ca_key = _load_ca(state_dir, ca)
    key = certificates.new_key()
    cert = certificates.build(
        certificates.name("kube-apiserver"), key, ca_cert.not_valid_after_utc,
        issuer=(ca_cert, ca_key),
        hosts=[*sorted({"127.0.0.1", *addresses}), "localhost", *SERVICE_NAMES],
        usages=["digital_signature"], extended=[ExtendedKeyUsageOID.SERVER_AUTH])
    cert_path, key_path = state_dir / "apiserver.crt", state_dir / "apiserver.key"
    write_atomic(key_path, certificates.pem_key(key), mode=0o600)
    write_atomic(cert_path, certificates.pem(cert) + ca_pem, mode=0o644)
    return cert_path, key_path


def _load_ca(state_dir: Path, ca: tuple[Path, Path]) -> tuple[bytes, Any, Any]:
    """The CA's PEM, certificate and key; a file edited or cut short is the user's error,
    with what it costs to start over (kubeconfigs handed out trust this CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ca_pem = ca[0].read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        ca_key = serialization.load_pem_private_key(ca[1].read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError("the key is not the EC P-256 key kompy made")
    except (OSError, ValueError, TypeError) as error:
        reason = str(error).split(". See https://", 1)[0]  # cryptography's FAQ link
        raise ClusterError(
            f"the cluster's CA ({ca[0].name}, {ca[1].name} in {state_dir}) cannot be read: "
            f"{reason}",
            hint="put back the files kompy made; or remove both, and the next start makes a "
                 "new CA (kubeconfigs handed out before then trust the old one: hand out "
                 "`kompy cluster kubeconfig` again)") from None
    return ca_pem, ca_cert, ca_key
