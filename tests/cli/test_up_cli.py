"""``kompy up`` / ``kompy down`` argument handling (the runs themselves: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kompy.cli import main
from kompy.cli.options import duration_seconds


@pytest.mark.parametrize(("text", "seconds"), [("120s", 120.0), ("2m", 120.0), ("90", 90.0),
                                               ("1.5s", 1.5), ("500ms", 0.5), ("1h", 3600.0),
                                               ("1m30s", 90.0)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(None, None, text) == seconds  # type: ignore[arg-type]


def test_bad_wait_timeout_is_a_usage_error(isolated_env: Path) -> None:
    result = CliRunner().invoke(main, ["up", "--wait-timeout", "soon"])
    assert result.exit_code == 2
    assert "'soon' is not a duration" in result.output


def test_invalid_project_fails_before_building_or_starting_a_cluster(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    imag: x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "state"))
    result = CliRunner().invoke(main, ["up"])
    assert result.exit_code == 2, result.output
    assert "compose.yaml:3:5" in result.output
    assert not (tmp_path / "state").exists()  # no cluster was started
