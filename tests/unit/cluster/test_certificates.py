"""The cluster's certificates, each as a whole: the API server's CA and serving certificate
(apiserver/tls.py), the Ingress's local CA, the certificates it issues and the self-signed
default (ingress/certs.py). Key usages, names, validity and the key identifiers strict
verifiers need: one builder (kompy/cluster/certificates.py) makes them all."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kompy.cluster.apiserver.tls import ensure_certificate, issue_serving
from kompy.cluster.ingress.certs import LocalCA, self_signed

DAY = datetime.timedelta(days=1)


def _ext(cert: x509.Certificate, kind: Any) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def profile(cert: x509.Certificate) -> dict[str, Any]:
    """What a TLS peer checks of a certificate, in a form a test can compare whole."""
    basic, usage = _ext(cert, x509.BasicConstraints), _ext(cert, x509.KeyUsage)
    extended, san = _ext(cert, x509.ExtendedKeyUsage), _ext(cert, x509.SubjectAlternativeName)
    usages = None
    if usage is not None:
        ca_only = ("key_cert_sign", "crl_sign")
        usages = {name for name in ("digital_signature", "key_encipherment", "content_commitment",
                                    "data_encipherment", "key_agreement", *ca_only)
                  if getattr(usage.value, name)}, usage.critical
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    return {
        "ca": (basic.value.ca, basic.value.path_length, basic.critical),
        "usages": usages,
        "extended": None if extended is None else set(extended.value),
        "names": None if san is None else {str(n.value) for n in san.value},
        "ski": _ext(cert, x509.SubjectKeyIdentifier) is not None,
        "aki": None if aki is None else aki.value.key_identifier,
        "days": round((cert.not_valid_after_utc - cert.not_valid_before_utc) / DAY),
    }


def _ski(cert: x509.Certificate) -> bytes:
    return bytes(cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
                 .value.digest)


def _fresh(cert: x509.Certificate) -> None:
    """Valid from a few minutes ago (clocks of containers and host differ a little)."""
    now = datetime.datetime.now(datetime.UTC)
    assert now - datetime.timedelta(minutes=6) < cert.not_valid_before_utc < now


def test_the_api_servers_ca_and_serving_certificate(tmp_path: Path) -> None:
    found = ensure_certificate(tmp_path)
    assert found is not None
    ca = x509.load_pem_x509_certificate(found[0].read_bytes())
    assert profile(ca) == {
        "ca": (True, None, True), "usages": ({"digital_signature", "key_cert_sign"}, True),
        "extended": {ExtendedKeyUsageOID.SERVER_AUTH}, "names": {"127.0.0.1", "localhost"},
        "ski": True, "aki": None, "days": 3650}
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    _fresh(ca)
    assert oct(found[1].stat().st_mode & 0o777) == "0o600"

    cert_path, _ = issue_serving(tmp_path, found, ["10.213.0.9"])
    leaf = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    assert profile(leaf) == {
        "ca": (False, None, True), "usages": ({"digital_signature"}, True),
        "extended": {ExtendedKeyUsageOID.SERVER_AUTH},
        "names": {"127.0.0.1", "10.213.0.9", "localhost", "kubernetes", "kubernetes.default",
                  "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
        "ski": True, "aki": _ski(ca), "days": 3650}
    assert leaf.not_valid_after_utc == ca.not_valid_after_utc
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kube-apiserver"
    leaf.verify_directly_issued_by(ca)


def test_the_ingress_ca_and_what_it_issues(tmp_path: Path) -> None:
    local = LocalCA(tmp_path)
    ca, _ = local.ensure()
    assert profile(ca) == {
        "ca": (True, 0, True),
        "usages": ({"digital_signature", "key_cert_sign", "crl_sign"}, True),
        "extended": None, "names": None, "ski": True, "aki": None, "days": 3650}
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "kompy"
    _fresh(ca)

    cert_pem, _, _ = local.issue(["shop.test", "*.shop.test", "10.0.0.1"])
    leaf = x509.load_pem_x509_certificate(cert_pem)
    assert profile(leaf) == {
        "ca": (False, None, True), "usages": None,
        "extended": {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH},
        "names": {"shop.test", "*.shop.test", "10.0.0.1"}, "ski": True, "aki": _ski(ca),
        "days": 825}
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "shop.test"
    leaf.verify_directly_issued_by(ca)
    _fresh(leaf)


def test_the_self_signed_default(tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(self_signed(["ingress.local"])[0])
    assert profile(cert) == {
        "ca": (False, None, True), "usages": None,
        "extended": {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH},
        "names": {"ingress.local"}, "ski": True, "aki": None, "days": 365}
    assert cert.issuer == cert.subject
