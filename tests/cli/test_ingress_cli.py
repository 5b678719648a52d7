"""``kompy cluster start --ingress-ports`` and ``kompy cluster cert`` through the real CLI,
against a daemon serving the API only (KOMPY_CLUSTER_NO_RUNTIME: no Docker, no listeners)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from clikit import run

from kompy.cli import main
from kompy.cluster.ingress.certs import read_pair


@pytest.fixture
def cluster(cluster: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The API-only cluster (conftest.py), with kompy's own Ingress ports setting."""
    monkeypatch.delenv("KOMPY_INGRESS_PORTS", raising=False)
    return cluster


def test_ingress_ports_are_checked_and_kept(cluster: Path) -> None:
    bad = run("cluster", "start", "--ingress-ports", "80", code=2)
    assert "error: invalid ingress ports '80'" in bad.stderr
    assert "hint: give HTTP,HTTPS port numbers" in bad.stderr
    assert not (cluster / "daemon.pid").exists()
    run("cluster", "start", "--ingress-ports", "8080,0")
    assert json.loads((cluster / "ingress.json").read_text())["ports"] == "8080,0"
    changed = run("cluster", "start", "--ingress-ports", "off")
    assert "takes effect at its next start" in changed.stderr
    assert json.loads((cluster / "ingress.json").read_text())["ports"] == "off"


def test_cert_makes_a_tls_secret_from_the_local_ca(cluster: Path) -> None:
    first = run("cluster", "cert", "shop.local", "*.shop.local", "127.0.0.1")
    assert first.stdout.startswith("secret/shop-local-tls created in namespace default: a "
                                   "certificate for shop.local, *.shop.local, 127.0.0.1")
    ca = cluster / "ingress-ca.crt"
    assert f"curl --cacert {ca} --resolve shop.local:443:127.0.0.1 https://shop.local/" in \
        first.stdout
    assert (cluster / "ingress-ca.key").stat().st_mode & 0o777 == 0o600
    secret = json.loads(run("get", "secret", "shop-local-tls", "-o", "json").stdout)
    assert secret["type"] == "kubernetes.io/tls"
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert data["ca.crt"] == ca.read_bytes()
    info = read_pair(data["tls.crt"], data["tls.key"])
    assert info.covers("eu.shop.local") and "127.0.0.1" in info.names
    # The private key is in the Secret only: never printed.
    assert b"PRIVATE KEY" not in first.stdout.encode()
    again = run("cluster", "cert", "shop.local", "--secret", "shop-local-tls", "--days", "30")
    assert "secret/shop-local-tls configured" in again.stdout
    assert run("cluster", "cert", "bad_host!", code=2).stderr.startswith(
        "error: invalid host name 'bad_host!'")
    CliRunner().invoke(main, ["apply", "-f", "-"], input=(
        "{apiVersion: v1, kind: Secret, metadata: {name: mine}, stringData: {a: b}}\n"))
    refused = run("cluster", "cert", "x.local", "--secret", "mine", code=2)
    assert 'secret "default/mine" exists and is not of type kubernetes.io/tls' in \
        refused.stderr
