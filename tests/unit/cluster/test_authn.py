"""The API server's token authentication: the admin token and kube-apiserver's token file."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.cluster.apiserver.authn import ADMIN, TokenAuthenticator, UserInfo, parse_token_file
from kompy.errors import UserError


def test_token_file_format_as_kube_apiserver_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('t1,alice,u-1,"devs,ops"\n\nt2,bob,u-2\n,nobody,u-3\n')
    authn = TokenAuthenticator("admin", path)
    assert authn.authenticate("Bearer t1") == UserInfo(
        "alice", "u-1", ("devs", "ops", "system:authenticated"))
    assert authn.authenticate("bearer  t2 ") == UserInfo("bob", "u-2",
                                                         ("system:authenticated",))
    assert authn.authenticate("Bearer admin") is ADMIN
    assert authn.authenticate("BEARER admin") is ADMIN  # the scheme ignores case
    for header in (None, "", "Bearer", "Bearer ", "Basic dDE6", "Bearer t3", "t1"):
        assert authn.authenticate(header) is None, header


def test_without_a_token_file_only_the_admin_token(tmp_path: Path) -> None:
    authn = TokenAuthenticator("admin", tmp_path / "absent.csv")
    assert authn.authenticate("Bearer admin") is ADMIN
    assert authn.authenticate("Bearer t1") is None


def test_bad_lines_are_named() -> None:
    with pytest.raises(UserError, match=r"^f.csv:2: a token line needs at least 3 columns"):
        parse_token_file("a,b,c\nd,e\n", "f.csv")


def test_a_broken_edit_keeps_the_previous_tokens(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import kompy.cluster.apiserver.authn as authn_module

    monkeypatch.setattr(authn_module, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "tokens.csv"
    path.write_text("t1,alice,u-1\n")
    authn = TokenAuthenticator("admin", path)
    path.write_text("t1,alice\n")
    assert authn.authenticate("Bearer t1") is not None
    path.write_text("t2,alice,u-1\n")
    assert authn.authenticate("Bearer t1") is None
    assert authn.authenticate("Bearer t2") is not None
