"""click's own usage errors (unknown option, missing argument, bad value, unknown command)
come out in kompy's error style, with exit status 2, never as click's ``Usage: ... Error:``
block."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from kompy.cli import main


@pytest.mark.parametrize(("args", "error", "usage"), [
    (["get", "--foo", "pods"], "kompy get: no such option '--foo'",
     "kompy get [OPTIONS] KIND [NAMES]..."),
    (["get"], "kompy get: missing argument 'KIND'", "kompy get [OPTIONS] KIND [NAMES]..."),
    (["logs", "--folow", "web"], "kompy logs: no such option '--folow' (did you mean "
     "'--follow'?)", "kompy logs [OPTIONS] [TARGET] [CONTAINER]"),
    (["up", "--wait-timeout", "soon"], "kompy up: invalid value for '--wait-timeout': 'soon' is "
     "not a duration (like 120s, 2m)", "kompy up [OPTIONS] [SERVICES]..."),
    (["nosuch"], "kompy: no such command 'nosuch'", "kompy [OPTIONS] COMMAND [ARGS]..."),
])
def test_usage_errors_use_kompys_style(args: list[str], error: str, usage: str) -> None:
    result = CliRunner().invoke(main, args, prog_name="kompy")
    assert result.exit_code == 2
    assert result.stdout == ""
    command = error.split(":")[0]
    assert result.stderr == (f"error: {error}\n"
                             f"  hint: usage: {usage} (`{command} --help` for more)\n")


def test_the_installed_command_reports_usage_errors_the_same_way() -> None:
    done = subprocess.run([sys.executable, "-m", "kompy", "describe", "--bogus"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert "no such option '--bogus'" in done.stderr and "Usage:" not in done.stderr


def test_help_and_version_still_exit_0() -> None:
    assert CliRunner().invoke(main, ["get", "--help"], prog_name="kompy").exit_code == 0
    result = CliRunner().invoke(main, ["--version"], prog_name="kompy")
    assert result.exit_code == 0 and "kompy" in result.stdout
