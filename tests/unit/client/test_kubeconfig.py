from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kompy.client import kubeconfig
from kompy.errors import ClusterError

REAL = """
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: {ca}
- name: dev-cluster
  cluster: {{server: "https://dev:6443", insecure-skip-tls-verify: true}}
users:
- name: admin
  user:
    client-certificate: certs/admin.crt
    client-key-data: {key}
- name: dev
  user: {{tokenFile: token.txt}}
contexts:
- name: prod
  context: {{cluster: prod-cluster, user: admin, namespace: shop}}
- name: dev
  context: {{cluster: dev-cluster, user: dev}}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    ca = base64.b64encode(b"CA PEM").decode()
    key = base64.b64encode(b"KEY PEM").decode()
    path = tmp_path / "config"
    path.write_text(REAL.format(ca=ca, key=key))
    (tmp_path / "token.txt").write_text("s3cret\n")
    return path


def test_current_context_with_client_certificate(config: Path) -> None:
    conn = kubeconfig.connection(str(config))
    assert conn.server == "https://10.0.0.1:6443" and conn.namespace == "shop"
    assert isinstance(conn.verify, str) and Path(conn.verify).read_bytes() == b"CA PEM"
    assert conn.cert is not None
    assert conn.cert[0] == str(config.parent / "certs/admin.crt")
    assert Path(conn.cert[1]).read_bytes() == b"KEY PEM"
    assert conn.token is None


def test_named_context_with_token_file(config: Path) -> None:
    conn = kubeconfig.connection(str(config), "dev")
    assert conn.token == "s3cret" and conn.verify is False and conn.namespace == "default"


def test_kubeconfig_env_merges_files(config: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "first"
    kubeconfig.write(first, "http://127.0.0.1:1234", "tok", "kompy-default")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{config}")
    assert kubeconfig.connection().server == "http://127.0.0.1:1234"
    assert kubeconfig.connection(context="dev").token == "s3cret"
    assert oct(first.stat().st_mode & 0o777) == "0o600"


def test_errors(config: Path, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no context named 'nope'"):
        kubeconfig.connection(str(config), "nope")
    with pytest.raises(ClusterError, match="no current context"):
        kubeconfig.connection(str(tmp_path / "missing"))
    plugin = tmp_path / "plugin"
    plugin.write_text("current-context: c\nclusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                      "users: [{name: u, user: {exec: {command: aws}}}]\n"
                      "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    with pytest.raises(ClusterError, match="credential plugin"):
        kubeconfig.connection(str(plugin))
