"""The kubelet's side of ServiceAccount tokens: the projected ``kube-api-access`` volume's
files, the token manager's reuse and renewal at 80% of a token's life, and the
``KUBERNETES_SERVICE_*`` variables."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from kompy.cluster.apiserver.saadmission import token_volume
from kompy.cluster.kubelet.podspec import api_service_env, resolve_env
from kompy.cluster.kubelet.tokens import TokenManager
from kompy.cluster.kubelet.volumes import VolumeMaker

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
       "spec": {"serviceAccountName": "robot", "containers": [],
                "volumes": [token_volume("kube-api-access-abcde")]}}


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


class Api:
    """The TokenRequest endpoint, counting calls."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        self.requests.append((path, body))
        return Answer({"status": {"token": f"token-{len(self.requests)}"}})


def test_the_volume_holds_token_ca_and_namespace(tmp_path: Path) -> None:
    api = Api()
    tokens = TokenManager(api)  # type: ignore[arg-type]
    ca = {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "PEM"}}
    maker = VolumeMaker(backend=None, state_dir=tmp_path,  # type: ignore[arg-type]
                        configmaps=lambda ns, n: ca if n == "kube-root-ca.crt" else None,
                        secrets=lambda ns, n: None, claims=lambda ns, n: None,
                        tokens=tokens.token)
    source = maker.prepare(POD)["kube-api-access-abcde"]
    folder = Path(source.path)
    assert source.read_only
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "token": "token-1", "ca.crt": "PEM", "namespace": "ns"}
    assert stat.S_IMODE((folder / "token").stat().st_mode) == 0o644   # defaultMode 420
    path, body = api.requests[0]
    assert path == "/api/v1/namespaces/ns/serviceaccounts/robot/token"
    assert body["spec"] == {"expirationSeconds": 3607, "boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u-1"}}
    maker.prepare(POD)
    assert len(api.requests) == 1          # the same token until it is due for renewal


def test_a_token_is_renewed_at_80_percent_of_its_life() -> None:
    api = Api()
    tokens = TokenManager(api)  # type: ignore[arg-type]
    tokens.token(POD, "robot", "", 3600)
    due = tokens.next_refresh("u-1")
    assert due is not None and 2870 < due <= 2880
    assert tokens.next_refresh("other") is None
    key = next(iter(tokens._tokens))
    tokens._tokens[key] = (b"old", 0.0)    # its renewal time has come
    assert tokens.token(POD, "robot", "", 3600) == b"token-2"
    tokens.forget("u-1")
    assert tokens.next_refresh("u-1") is None


def test_every_container_learns_where_the_api_server_is() -> None:
    env = api_service_env("10.213.0.9")
    assert env["KUBERNETES_SERVICE_HOST"] == "10.213.0.9"
    assert env["KUBERNETES_SERVICE_PORT"] == env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://10.213.0.9:443"
    assert api_service_env("") == {}
    container = {"env": [{"name": "KUBERNETES_SERVICE_PORT", "value": "8443"},
                         {"name": "URL", "value": "https://$(KUBERNETES_SERVICE_HOST)"}]}
    resolved = resolve_env(POD, container, lambda ns, n: None, lambda ns, n: None,
                           service_env=env)
    assert resolved["KUBERNETES_SERVICE_PORT"] == "8443"      # the pod's own env wins
    assert resolved["URL"] == "https://10.213.0.9"
