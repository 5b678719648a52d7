"""One builder of the cluster's X.509 certificates, with ``cryptography``: the API server's CA
and serving certificate (apiserver/tls.py), and the Ingress's local CA, the certificates it
issues and its self-signed default (ingress/certs.py).

Every certificate has an EC P-256 key and a SHA-256 signature, is valid from five minutes
before it was made (clocks of containers and host differ a little), and carries its subject
key identifier and, when another key signs it, its issuer's (authority key identifier):
strict verifiers (Python 3.13's default context) require them (RFC 5280, 4.2.1.1-2).
Callers import this module where they use it: without ``cryptography`` the API server serves
plain HTTP.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.x509 import Certificate, Name, ObjectIdentifier

# How long before its making a certificate is valid.
SKEW = datetime.timedelta(minutes=5)
# The KeyUsage bits this builder sets when asked; the others stay off.
USAGES = ("digital_signature", "key_cert_sign", "crl_sign")


def new_key() -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def pem_key(key: EllipticCurvePrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (written 0600 by the callers)."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem(cert: Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def name(common_name: str, organization: str | None = None) -> Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def days_from_now(days: int) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)


def build(subject: Name, key: EllipticCurvePrivateKey, not_after: datetime.datetime, *,
          issuer: tuple[Certificate, EllipticCurvePrivateKey] | None = None,
          hosts: Sequence[str] = (), ca: bool = False, path_length: int | None = None,
          usages: Sequence[str] | None = None,
          extended: Sequence[ObjectIdentifier] | None = None) -> Certificate:
    """A certificate for ``key``, signed by ``issuer`` (its certificate and key) or, without
    one, by ``key`` itself. ``hosts``: the subject alternative names (IP addresses or DNS
    names; none: no extension). ``ca``/``path_length``: the basic constraints (critical).
    ``usages``: the KeyUsage bits among USAGES (critical; None: no extension).
    ``extended``: the extended key usages (None: no extension)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [_general_name(host) for host in hosts]), critical=False)
    if issuer:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer[1].public_key()), critical=False)
    if usages is not None:
        unknown = set(usages) - set(USAGES)
        assert not unknown, f"no such key usage here: {unknown}"
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature="digital_signature" in usages, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            key_cert_sign="key_cert_sign" in usages, crl_sign="crl_sign" in usages,
            encipher_only=False, decipher_only=False), critical=True)
    if extended is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended)), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _general_name(host: str) -> x509.GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
