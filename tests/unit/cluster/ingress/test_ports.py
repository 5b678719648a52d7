"""Where the Ingress listens: the port settings and how they fall back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kompy.cluster.ingress import ports
from kompy.errors import UserError


@pytest.fixture
def busy() -> Iterator[int]:
    """A port another program holds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _close(found: dict[str, socket.socket]) -> dict[str, int]:
    got = {scheme: int(sock.getsockname()[1]) for scheme, sock in found.items()}
    for sock in found.values():
        sock.close()
    return got


def test_settings_parse() -> None:
    assert ports.parse_setting(" Auto ").auto
    assert ports.parse_setting("off").off
    assert ports.parse_setting("8080, 8443") == ports.PortSetting("8080,8443", 8080, 8443)
    for bad in ("80", "a,b", "1,2,3", "70000,1", ""):
        with pytest.raises(UserError, match="invalid ingress ports"):
            ports.parse_setting(bad)


def test_auto_takes_the_standard_ports_else_last_times_else_any(
        busy: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        last = int(probe.getsockname()[1])
    monkeypatch.setattr(ports, "STANDARD", {"http": busy, "https": busy})
    found, errors = ports.open_listeners(ports.parse_setting("auto"), {"http": last})
    got = _close(found)
    assert got["http"] == last and got["https"] not in (busy, 0) and not errors


def test_explicit_ports_are_taken_exactly_or_reported(busy: int) -> None:
    found, errors = ports.open_listeners(ports.parse_setting(f"{busy},0"), {})
    got = _close(found)
    assert "http" not in got and got["https"] > 0
    assert errors == {"http": f"cannot listen on 127.0.0.1:{busy}: Address already in use"}


def test_off_opens_nothing() -> None:
    assert ports.open_listeners(ports.parse_setting("off"), {}) == (
        {}, {"http": "off", "https": "off"})


def test_the_environment_wins_over_the_kept_setting(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path
    ports.write_state(state, ports="8080,8443")
    monkeypatch.delenv(ports.ENV, raising=False)
    assert ports.current_setting(state).text == "8080,8443"
    monkeypatch.setenv(ports.ENV, "0,0")
    assert ports.current_setting(state).text == "0,0"
    assert (state / "ingress.json").stat().st_mode & 0o777 == 0o600
