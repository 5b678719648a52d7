"""Certificates for the Ingress: reading the ones in TLS Secrets, and making local ones.

- :func:`read_pair` checks a Secret's ``tls.crt``/``tls.key`` (PEM, the key matching the
  first certificate) and tells which host names the certificate covers and until when.
- :class:`LocalCA` is the cluster's own certificate authority, made on first use and kept in
  the state folder (``ingress-ca.crt``, and ``ingress-ca.key`` readable by its owner only):
  ``kompy cluster cert HOST...`` and ``kompy.dev/auto-tls`` issue certificates from it, so
  trusting that one file (``curl --cacert``) trusts every local HTTPS host.
- :func:`self_signed` is the default certificate, served to hosts without one of their own
  (ingress-nginx's "Kubernetes Ingress Controller Fake Certificate").

All of it with ``cryptography``; the certificates made by kompy/cluster/certificates.py.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.cluster import certificates
from kompy.errors import UserError
from kompy.fsutil import write_atomic

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest validity Apple's clients accept for a TLS server certificate


class CertificateError(UserError):
    """A TLS Secret whose certificate or key cannot be used."""


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]           # DNS names (and IP addresses) the certificate is for
    not_after: datetime.datetime

    def covers(self, host: str) -> bool:
        """Whether the certificate is valid for ``host`` (RFC 6125: a ``*`` left-most label
        stands for exactly one label)."""
        host = host.lower().rstrip(".")
        for pattern in self.names:
            pattern = pattern.lower().rstrip(".")
            if pattern == host:
                return True
            if pattern.startswith("*.") and "." in host:
                label, rest = host.split(".", 1)
                if label and rest == pattern[2:]:
                    return True
        return False


def read_pair(cert_pem: bytes, key_pem: bytes) -> CertInfo:
    """The hosts and expiry of a PEM certificate chain and its key; CertificateError when they
    are not PEM or do not belong together."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as error:
        raise CertificateError(f"tls.crt holds no PEM certificate ({error})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise CertificateError(f"tls.key holds no unencrypted PEM private key ({error})"
                               ) from None
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.PEM, public) != \
            leaf.public_key().public_bytes(serialization.Encoding.PEM, public):
        raise CertificateError("tls.key does not belong to the certificate of tls.crt")
    return CertInfo(_names(leaf), leaf.not_valid_after_utc)


def _names(cert: Any) -> tuple[str, ...]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        # No SAN: the Common Name, as ingress-nginx still accepts (with a warning).
        return tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(
            NameOID.COMMON_NAME))
    return tuple(san.get_values_for_type(x509.DNSName)) + tuple(
        str(ip) for ip in san.get_values_for_type(x509.IPAddress))


def _leaf(hosts: list[str], key: Any, issuer: tuple[Any, Any] | None, days: int) -> Any:
    """A server (and client) certificate for ``hosts``, named after the first (ingress-nginx's
    and mkcert's shape: no KeyUsage extension, both extended usages)."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    return certificates.build(
        certificates.name(hosts[0][:64]), key, certificates.days_from_now(days),
        issuer=issuer, hosts=hosts,
        extended=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])


def self_signed(hosts: list[str], days: int = 365) -> tuple[bytes, bytes]:
    """(certificate, key) PEM of a self-signed certificate for ``hosts``."""
    key = certificates.new_key()
    return certificates.pem(_leaf(hosts, key, None, days)), certificates.pem_key(key)


class LocalCA:
    """The cluster's certificate authority, in its state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.cert_file = state_dir / "ingress-ca.crt"
        self.key_file = state_dir / "ingress-ca.key"
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def ensure(self) -> tuple[Any, Any]:
        """The CA's certificate and key, made (and written) on first use."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        with self._lock:
            if self._loaded is not None:
                return self._loaded
            if self.cert_file.exists() and self.key_file.exists():
                cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
                key = serialization.load_pem_private_key(self.key_file.read_bytes(), None)
            else:
                cert, key = self._make()
                write_atomic(self.key_file, certificates.pem_key(key), mode=0o600)
                write_atomic(self.cert_file, certificates.pem(cert), mode=0o644)
            self._loaded = (cert, key)
            return self._loaded

    def _make(self) -> tuple[Any, Any]:
        key = certificates.new_key()
        cert = certificates.build(
            certificates.name(f"kompy local CA ({self.cert_file.parent.name})", "kompy"), key,
            certificates.days_from_now(CA_DAYS), ca=True, path_length=0,
            usages=["digital_signature", "key_cert_sign", "crl_sign"])
        return cert, key

    def issue(self, hosts: list[str], days: int = LEAF_DAYS) -> tuple[bytes, bytes, bytes]:
        """(certificate, key, CA certificate) PEM for ``hosts``, signed by this CA."""
        ca_cert, ca_key = self.ensure()
        key = certificates.new_key()
        cert = _leaf(hosts, key, (ca_cert, ca_key), days)
        return certificates.pem(cert), certificates.pem_key(key), certificates.pem(ca_cert)
