"""Running kompy's CLI in the test's process (tests/cli/conftest.py puts this folder on
sys.path)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from kompy.cli import main


def run(*args: str, input: str | None = None, code: int = 0) -> Result:
    """``kompy ARGS`` through click's runner; fails unless it exits with ``code``."""
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == code, f"kompy {' '.join(args)}: {result.output}"
    return result
