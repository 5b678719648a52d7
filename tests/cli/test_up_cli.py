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


def test_the_cluster_check_comes_before_the_build(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster that cannot start (here: another KOMPY_HOME's cluster of that name on the
    engine) fails `kompy up` before any image is built, not after a long build."""
    from kompy.errors import ClusterError

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    monkeypatch.chdir(tmp_path)
    built: list[str] = []
    monkeypatch.setattr("kompy.dev.up._wait_image", lambda: "busybox:1.36")
    monkeypatch.setattr("kompy.engine.images.build_image",
                        lambda spec, on_line=None: built.append(spec.service) or "sha256:1")

    def conflict(cluster: str | None = None) -> bool:
        raise ClusterError("cluster 'default' of another KOMPY_HOME (/elsewhere) has "
                           "containers, networks or volumes on this Docker engine")

    monkeypatch.setattr("kompy.cluster.daemon.process.preflight", conflict)
    result = CliRunner().invoke(main, ["up"])
    assert result.exit_code == 2, result.output
    assert "of another KOMPY_HOME" in result.stderr
    assert built == [] and "building" not in result.output


def test_convert_says_once_that_develop_is_for_kompy_dev(
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's own sample: one warning, naming the file as it was typed."""
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["convert", "-f", "samples/webapp/compose.yaml",
                                       "--stdout"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "develop" in line]
    assert warnings == ["warning: samples/webapp/compose.yaml:40:5: services.web.develop: "
                        "develop (watch rules) is for `kompy dev`; it has no Kubernetes "
                        "meaning"]


def test_counts_are_plural_only_when_they_should_be() -> None:
    from kompy.dev.up import count

    assert [count(n, "object") for n in (0, 1, 2)] == ["0 objects", "1 object", "2 objects"]


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: x, user: u}}]
current-context: x
"""


@pytest.mark.parametrize(("in_the_way", "reason"), [
    ("", "Not a directory"),          # KOMPY_HOME itself a file
    ("dev", "a file is in the way"),  # its dev folder a file
])
def test_dev_with_a_status_folder_that_cannot_be_written_is_a_user_error(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, in_the_way: str,
    reason: str,
) -> None:
    """``kompy dev`` writes its session's status under $KOMPY_HOME/dev (the dashboard reads
    it). It went on silently without it (on another cluster than the built-in one, whose
    own folder check said nothing); it stops before deploying, saying which folder and
    where it comes from."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: kompy/busybox:1\n")
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    home = tmp_path / "state"
    if in_the_way:
        home.mkdir()
    (home / in_the_way).write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOMPY_HOME", str(home))
    result = CliRunner().invoke(main, ["dev", "--kubeconfig", str(tmp_path / "kubeconfig")])
    assert result.exit_code == 2, result.output
    folder = home / "dev"
    assert result.stderr == (
        f"error: cannot write the status of this dev session to {folder}: {reason} "
        f"({folder})\n  hint: the folder comes from KOMPY_HOME={home}: point KOMPY_HOME at a "
        "folder you can write (the dashboard's dev panel reads the session there)\n")
    assert "Traceback" not in result.output


def test_dev_against_a_cluster_that_does_not_answer_says_so_once(
        tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing reached the cluster, so there is nothing to clean up: no "removing the
    project" and no second copy of the error from a clean-up that fails the same way."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: kompy/busybox:1\n")
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "state"))
    result = CliRunner().invoke(main, ["dev", "--kubeconfig", str(tmp_path / "kubeconfig")])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("error: no cluster answers at https://127.0.0.1:1") == 1, \
        result.output
    assert "removing the project" not in result.output
