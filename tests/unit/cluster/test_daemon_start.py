"""What a daemon tells the commands as it starts (no daemon runs: the state folder only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.cluster.daemon import process as daemon
from kompy.cluster.daemon.state import ClusterState, cluster_state
from kompy.errors import UserError


def test_the_pid_file_agrees_before_api_json_names_the_new_daemon(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A start returns once api.json names the new pid and the API answers. If the pid file
    still named the killed daemon then, the next command said the cluster was not running
    (seen in test_a_killed_daemon_is_restarted_with_its_objects on a loaded machine)."""
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path))
    state = cluster_state("pids")
    state.ensure_dir()
    state.pid_file.write_text("111\n")                  # the daemon that was killed
    state.write_api({"pid": 111, "url": "https://127.0.0.1:1"})
    seen: list[Any] = []
    write_api = ClusterState.write_api

    def watched(self: ClusterState, data: dict[str, Any]) -> None:
        seen.append((data["pid"], self.read_pid()))
        write_api(self, data)
    monkeypatch.setattr(ClusterState, "write_api", watched)
    daemon.publish(state, {"pid": 222, "url": "https://127.0.0.1:2"})
    assert seen == [(222, 222)]
    assert state.read_api() == {"pid": 222, "url": "https://127.0.0.1:2"}


def test_a_state_folder_that_cannot_be_used_is_the_users_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KOMPY_HOME that is a file (or under one) was an internal error with a traceback's
    NotADirectoryError; it is the user's to fix, said with where the folder comes from."""
    home = tmp_path / "home"
    home.write_text("")
    monkeypatch.setenv("KOMPY_HOME", str(home))
    state = cluster_state("x")
    for step in (state.read_api, state.read_pid, state.ensure_dir):
        with pytest.raises(UserError) as raised:
            step()
        assert raised.value.exit_code == 2
        assert raised.value.message.startswith(
            f"cannot use the state folder of cluster 'x', {home / 'x'}: Not a directory")
        assert raised.value.hint == (f"the folder comes from KOMPY_HOME={home}: point "
                                     "KOMPY_HOME at a folder you can write")
