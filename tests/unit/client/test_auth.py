"""The client's credentials and transport settings against kompy's API server over TLS."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kompy.client import KubeClient, Unauthorized
from kompy.client.auth import Credentials, proxies_for
from kompy.client.kubeconfig import Connection
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.apiserver.tls import ensure_certificate
from kompy.cluster.store.sqlite import Store
from kompy.errors import ClusterError

ADMIN = "admin-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    tls = ensure_certificate(tmp_path)
    srv = ApiServer(Store(tmp_path / "s.db"), ADMIN, tls=tls,
                    token_file=tmp_path / "tokens.csv").start()
    yield srv
    srv.stop()


def test_tls_server_name_is_the_name_checked(server: ApiServer) -> None:
    # The certificate names 127.0.0.1 and localhost.
    good = Connection(server=server.url, token=ADMIN, verify=str(server.ca),
                      tls_server_name="localhost")
    assert KubeClient(good).list("namespaces")["items"]
    wrong = Connection(server=server.url, token=ADMIN, verify=str(server.ca),
                       tls_server_name="api.example.com")
    with pytest.raises(ClusterError, match="TLS with .* failed"):
        KubeClient(wrong).list("namespaces")


def test_token_file_is_read_again_after_a_401(server: ApiServer, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("first,sa,u1,system:masters\n")  # RBAC: may do everything
    mine = tmp_path / "token"
    mine.write_text("first\n")
    client = KubeClient(Connection(server=server.url, verify=str(server.ca),
                                   token="first", token_file=str(mine), user="sa"))
    assert client.list("namespaces")["items"]
    # Rotated on both sides (a projected service-account token): once the server refuses
    # the old token, the next request gets a 401, reads the file again and succeeds.
    tokens.write_text("second,sa,u1,system:masters\n")
    old = KubeClient(Connection(server=server.url, verify=str(server.ca), token="first"))
    deadline = time.monotonic() + 30   # generous: a loaded machine is slow to get there
    while True:  # the server looks at its token file at most once a second
        try:
            old.list("namespaces")
        except Unauthorized:
            break
        assert time.monotonic() < deadline, "the server kept accepting the old token"
        time.sleep(0.1)
    mine.write_text("second\n")
    assert client.list("namespaces")["items"]
    assert client.credentials.authorize({}) == "second"


def test_refused_token_names_what_to_check(server: ApiServer) -> None:
    conn = Connection(server=server.url, token="nope", verify=str(server.ca),
                      context="prod", user="me")
    with pytest.raises(ClusterError) as caught:
        KubeClient(conn).list("namespaces")
    assert caught.value.hint == "the server refused the credentials of user 'me' of " \
                                "context 'prod'"


def test_basic_auth_and_precedence() -> None:
    headers: dict[str, str] = {}
    Credentials(Connection(server="https://h", basic_auth=("me", "pw"))).authorize(headers)
    assert headers["Authorization"] == "Basic bWU6cHc="
    # A token in the kubeconfig wins over an exec plugin, which then never runs.
    from kompy.client.execcred import ExecConfig

    creds = Credentials(Connection(server="https://h", token="t",
                                   exec=ExecConfig(command="kompy-no-such-plugin")))
    headers = {}
    assert creds.authorize(headers) == "t" and headers["Authorization"] == "Bearer t"


def test_proxies() -> None:
    assert proxies_for(Connection(server="https://10.0.0.1", proxy_url="http://p:3128")) == {
        "http": "http://p:3128", "https": "http://p:3128"}
    # A loopback server is never proxied (Go's ProxyFromEnvironment), others follow the
    # environment's variables.
    assert proxies_for(Connection(server="https://127.0.0.1:6443")) == {
        "http": None, "https": None, "all": None}
    assert proxies_for(Connection(server="https://localhost:6443")) is not None
    assert proxies_for(Connection(server="https://k8s.example.com")) is None
    with pytest.raises(ClusterError, match="proxy-url scheme 'ftp' is not supported"):
        proxies_for(Connection(server="https://h", proxy_url="ftp://p"))


def test_requests_go_through_the_proxy_url(server: ApiServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = Connection(server=server.url, token=ADMIN, verify=str(server.ca),
                      proxy_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ClusterError, match=f"the proxy for {server.url} failed"):
        KubeClient(conn).list("namespaces")


def test_loopback_server_ignores_proxy_variables(server: ApiServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    client = KubeClient(Connection(server=server.url, token=ADMIN, verify=str(server.ca)))
    assert client.list("namespaces")["items"]
