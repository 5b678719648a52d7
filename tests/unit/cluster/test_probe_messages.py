"""HTTP probe failures read as kubelet's: ``Get "<scheme>://host:port/path": <error>``."""

from __future__ import annotations

import socket

import pytest

from kompy.cluster.kubelet.probes import http_get


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("scheme", ["HTTP", "HTTPS"])
def test_a_refused_probe_names_its_own_scheme(scheme: str) -> None:
    port = _closed_port()
    spec = {"port": port, "path": "/healthz", "scheme": scheme}
    ok, message = http_get(spec, "127.0.0.1", {}, timeout=2.0)
    assert not ok
    assert message.startswith(f'Get "{scheme.lower()}://127.0.0.1:{port}/healthz": ')
