"""The dashboard's login token, sessions and CSRF tokens (kompy/dashboard/auth.py)."""

from __future__ import annotations

from kompy.dashboard.auth import Gate, allowed_hosts, cookie_header


def test_the_login_token_opens_one_session_once() -> None:
    gate = Gate("right-token")
    assert gate.login("wrong-token") is None
    session = gate.login("right-token")
    assert session is not None
    assert gate.login("right-token") is None          # spent
    assert gate.session(session.id) == session
    assert gate.session("someone-else") is None and gate.session(None) is None


def test_the_csrf_token_is_the_sessions_own() -> None:
    gate = Gate("t")
    session = gate.login("t")
    assert session is not None
    assert Gate.csrf_ok(session, session.csrf)
    assert not Gate.csrf_ok(session, "")
    assert not Gate.csrf_ok(session, None)
    assert not Gate.csrf_ok(session, session.id)       # the cookie is not the CSRF token


def test_the_cookie_is_http_only_and_same_site_strict() -> None:
    session = Gate("t").login("t")
    assert session is not None
    header = cookie_header(session)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Max-Age" not in header and "Expires" not in header  # gone with the browser


def test_only_loopback_host_names_are_answered() -> None:
    hosts = allowed_hosts(8765)
    assert "127.0.0.1:8765" in hosts and "localhost:8765" in hosts
    assert "evil.example:8765" not in hosts and "127.0.0.1:80" not in hosts


def test_names_that_could_change_an_api_path_are_refused() -> None:
    import pytest

    from kompy.dashboard.actions import run_action
    from kompy.dashboard.logs import LogRequest
    from kompy.dashboard.rows import valid_name
    from kompy.errors import UserError

    assert valid_name("web-58r548z8zb-qvcj6") and valid_name("kube-system")
    for bad in ("", "../secrets/db", "db?x=", "Web", "a/b", "-a", "a" * 300):
        assert not valid_name(bad), bad
    assert LogRequest("shop", "web-1", "c").valid()
    assert not LogRequest("shop", "../secrets/db?", "").valid()
    assert not LogRequest("shop", "web-1", "c/../x").valid()
    with pytest.raises(UserError):
        run_action(None, "delete", "shop", "pod/../secrets/db", {})  # type: ignore[arg-type]
