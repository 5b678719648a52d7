"""Which Ingresses kompy serves (IngressClass rules), and the certificates it reads and makes."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from kompy.cluster.apiserver.admission import default_ingress_class
from kompy.cluster.ingress import classes
from kompy.cluster.ingress.certs import CertificateError, LocalCA, read_pair, self_signed
from kompy.cluster.ingress.certstore import CertStore

OURS = classes.default_class_object()


def klass(name: str, controller: str, default: bool = False,
          created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if default:
        meta["annotations"] = {classes.DEFAULT_ANNOTATION: "true"}
    return {"metadata": meta, "spec": {"controller": controller}}


def ing(class_name: str | None = None, legacy: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "i"}, "spec": {}}
    if class_name:
        obj["spec"]["ingressClassName"] = class_name
    if legacy:
        obj["metadata"]["annotations"] = {classes.LEGACY_ANNOTATION: legacy}
    return obj


def test_the_class_rules() -> None:
    nginx_ours = klass("nginx", classes.CONTROLLER)
    theirs = klass("traefik", "traefik.io/ingress-controller")
    everything = [OURS, nginx_ours, theirs]
    assert classes.ours(ing("kompy"), everything)
    assert classes.ours(ing("nginx"), everything)            # a class given to kompy
    assert not classes.ours(ing("traefik"), everything)      # another controller's
    assert not classes.ours(ing("missing"), everything)      # nobody's
    assert classes.ours(ing(), everything)                   # the default class is kompy
    assert not classes.ours(ing(), [klass("kompy", classes.CONTROLLER), theirs])  # no default
    assert classes.ours(ing(legacy="kompy"), [])             # the legacy annotation
    assert not classes.ours(ing(legacy="nginx"), [OURS])
    assert classes.ours(ing(legacy="nginx"), everything)
    assert classes.ours(ing("kompy", legacy="traefik"), everything)  # the field wins


def test_the_newest_default_class_is_the_default() -> None:
    old = klass("old", "x", default=True, created="2026-01-01T00:00:00Z")
    new = klass("new", classes.CONTROLLER, default=True, created="2026-02-01T00:00:00Z")
    assert classes.default_class([old, new]) is new
    assert not classes.ours(ing(), [new | {"spec": {"controller": "x"}}, old])


def test_admission_names_the_default_class_on_ingresses_without_one() -> None:
    plain, named, legacy = ing(), ing("other"), ing(legacy="kompy")
    for obj in (plain, named, legacy):
        default_ingress_class(obj, [OURS])
    assert plain["spec"]["ingressClassName"] == "kompy"
    assert named["spec"]["ingressClassName"] == "other"
    assert "ingressClassName" not in legacy["spec"]
    lonely = ing()
    default_ingress_class(lonely, [klass("x", classes.CONTROLLER)])
    assert "ingressClassName" not in lonely["spec"]


def test_the_local_ca_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path)
    cert, key, ca_pem = ca.issue(["shop.local", "*.shop.local", "127.0.0.1"])
    assert (ca.key_file.stat().st_mode & 0o777) == 0o600
    info = read_pair(cert, key)
    assert info.covers("shop.local") and info.covers("eu.shop.local")
    assert not info.covers("a.eu.shop.local") and not info.covers("other.local")
    assert "127.0.0.1" in info.names
    assert LocalCA(tmp_path).issue(["x.local"])[2] == ca_pem  # the same CA next time


def test_pairs_that_do_not_belong_together_are_refused() -> None:
    cert, _ = self_signed(["a.local"])
    _, other_key = self_signed(["a.local"])
    with pytest.raises(CertificateError, match="does not belong"):
        read_pair(cert, other_key)
    with pytest.raises(CertificateError, match="no PEM certificate"):
        read_pair(b"nonsense", other_key)


def test_the_store_reads_secrets_once_per_version_and_names_problems(tmp_path: Path) -> None:
    import base64

    cert, key = self_signed(["shop.local"], days=1)
    secrets: dict[tuple[str, str], dict[str, Any]] = {
        ("ns", "good"): {"metadata": {"resourceVersion": "1"}, "data": {
            "tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}},
        ("ns", "nokey"): {"metadata": {"resourceVersion": "1"}, "data": {
            "tls.crt": base64.b64encode(cert).decode()}},
    }
    store = CertStore(tmp_path, lambda ns, n: secrets.get((ns, n)))
    good = store.tls("ns", "good", "shop.local")
    assert good.context is not None and good.covers and not good.problem
    assert store.tls("ns", "good", "shop.local").context is good.context  # cached
    assert store.tls("ns", "good", "other.local").covers is False
    assert store.tls("ns", "nokey", "shop.local").problem == \
        'secret "ns/nokey" has no tls.key (base64 PEM)'
    assert store.tls("ns", "gone", "shop.local").problem == 'secret "ns/gone" not found'
    assert store.auto_tls("a.local") is store.auto_tls("a.local")
    assert (tmp_path / "ingress-ca.key").exists()


def test_certificates_expire(tmp_path: Path) -> None:
    info = read_pair(*self_signed(["x.local"], days=1))
    assert info.not_after > datetime.datetime.now(datetime.UTC)
