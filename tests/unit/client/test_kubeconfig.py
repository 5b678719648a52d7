from __future__ import annotations

import base64
import json
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
    with pytest.raises(ClusterError, match="kubeconfig .*missing does not exist"):
        kubeconfig.connection(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ClusterError, match="no current context"):
        kubeconfig.connection(str(empty))


def _config(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_merge_first_file_wins_each_entry_whole(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # client-go: the first file to set a map key wins, even the fields it leaves unset.
    first = _config(tmp_path, "a/config", """
clusters: [{name: c, cluster: {server: "https://first:6443"}}]
users: [{name: u, user: {token: first-token}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
""")
    second = _config(tmp_path, "b/config", """
current-context: ctx
clusters: [{name: c, cluster: {server: "https://second:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: second-token, tokenFile: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: other}}]
""")
    third = _config(tmp_path, "c/config", "current-context: ignored\n")
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("KUBECONFIG", f"{missing}:{first}:{second}:{first}:{third}")
    conn = kubeconfig.connection()
    assert conn.context == "ctx"  # from the first file that sets one: the second
    assert conn.server == "https://first:6443" and conn.verify is True
    assert conn.token == "first-token" and conn.token_file is None
    assert conn.namespace == "default"


def test_relative_paths_are_relative_to_their_own_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, "b/token", "from-b\n")
    first = _config(tmp_path, "a/config", "current-context: x\n")
    second = _config(tmp_path, "b/config", """
clusters: [{name: c, cluster: {server: "https://h"}}]
users:
- {name: u, user: {tokenFile: token}}
- name: p
  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/plugin,
                interactiveMode: Never}}
- name: q
  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: plugin,
                interactiveMode: Never}}
contexts:
- {name: x, context: {cluster: c, user: u}}
- {name: y, context: {cluster: c, user: p}}
- {name: z, context: {cluster: c, user: q}}
""")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    conn = kubeconfig.connection()
    assert conn.token == "from-b" and conn.token_file == str(tmp_path / "b/token")
    plugin = kubeconfig.connection(context="y").exec
    assert plugin is not None and plugin.command == str(tmp_path / "b/bin/plugin")
    bare = kubeconfig.connection(context="z").exec
    assert bare is not None and bare.command == "plugin"  # looked up on PATH


def test_overrides_namespace_user_and_cluster(config: Path) -> None:
    over = kubeconfig.Overrides(context="dev", namespace="shop", user="admin",
                                cluster="prod-cluster")
    conn = kubeconfig.connection(str(config), overrides=over)
    assert conn.namespace == "shop" and conn.server == "https://10.0.0.1:6443"
    assert conn.cert is not None and conn.user == "admin" and conn.context == "dev"


def test_tls_server_name_proxy_and_compression(tmp_path: Path) -> None:
    path = _config(tmp_path, "config", """
current-context: c
clusters: [{name: c, cluster: {server: "https://10.1.1.1", tls-server-name: api.internal,
            proxy-url: "http://proxy:3128", disable-compression: true}}]
users: [{name: u, user: {username: me, password: pw}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
""")
    conn = kubeconfig.connection(str(path))
    assert conn.tls_server_name == "api.internal" and conn.proxy_url == "http://proxy:3128"
    assert conn.disable_compression and conn.basic_auth == ("me", "pw")


INVALID = {
    "insecure-skip-tls-verify together with a certificate-authority":
        ("{server: 'https://h', insecure-skip-tls-verify: true, "
         "certificate-authority-data: Q0E=}", "{token: t}"),
    "both certificate-authority-data and certificate-authority":
        ("{server: 'https://h', certificate-authority-data: Q0E=, certificate-authority: ca}",
         "{token: t}"),
    "more than one authentication method":
        ("{server: 'https://h'}", "{token: t, username: u, password: p}"),
    "needs an apiVersion":
        ("{server: 'https://h'}", "{exec: {command: aws}}"),
    "apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported":
        ("{server: 'https://h'}",
         "{exec: {command: aws, apiVersion: client.authentication.k8s.io/v1alpha1}}"),
    "needs interactiveMode Never, IfAvailable or Always":
        ("{server: 'https://h'}",
         "{exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}"),
    "every env entry":
        ("{server: 'https://h'}", "{exec: {command: aws, apiVersion: "
         "client.authentication.k8s.io/v1beta1, env: [{value: x}]}}"),
    "'gcp' auth-provider":
        ("{server: 'https://h'}", "{auth-provider: {name: gcp}}"),
    "has no server address": ("{}", "{token: t}"),
    "not valid base64":
        ("{server: 'https://h', certificate-authority-data: '%%%'}", "{token: t}"),
}


@pytest.mark.parametrize("message", sorted(INVALID))
def test_invalid_entries_are_refused_as_client_go_refuses_them(tmp_path: Path,
                                                               message: str) -> None:
    cluster, user = INVALID[message]
    path = _config(tmp_path, "config", f"""
current-context: c
clusters: [{{name: c, cluster: {cluster}}}]
users: [{{name: u, user: {user}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
""")
    with pytest.raises(ClusterError, match=message):
        kubeconfig.connection(str(path))


def test_auth_provider_hint_names_the_replacement_plugins(tmp_path: Path) -> None:
    path = _config(tmp_path, "config", """
current-context: c
clusters: [{name: c, cluster: {server: "https://h"}}]
users: [{name: u, user: {auth-provider: {name: gcp}}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
""")
    with pytest.raises(ClusterError) as caught:
        kubeconfig.connection(str(path))
    assert "gke-gcloud-auth-plugin" in str(caught.value.hint)


def test_exec_stanza_with_cluster_info(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA PEM")
    path = _config(tmp_path, "config", """
current-context: c
clusters:
- name: c
  cluster:
    server: "https://h:6443"
    certificate-authority: ca.crt
    tls-server-name: api
    extensions:
    - {name: client.authentication.k8s.io/exec, extension: {audience: kompy}}
    - {name: other, extension: {x: 1}}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: get-token
      args: [--cluster, c]
      env: [{name: PROFILE, value: dev}]
      installHint: "apt-get install get-token"
      provideClusterInfo: true
contexts: [{name: c, context: {cluster: c, user: u}}]
""")
    plugin = kubeconfig.connection(str(path)).exec
    assert plugin is not None
    assert plugin.args == ("--cluster", "c") and plugin.env == (("PROFILE", "dev"),)
    assert plugin.interactive_mode == "IfAvailable"  # v1beta1's default
    assert plugin.install_hint == "apt-get install get-token" and plugin.user == "u"
    assert json.loads(plugin.cluster_info) == {
        "server": "https://h:6443", "tls-server-name": "api",
        "certificate-authority-data": base64.b64encode(b"CA PEM").decode(),
        "config": {"audience": "kompy"}}
