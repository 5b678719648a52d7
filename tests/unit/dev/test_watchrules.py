"""The exec block's options as a command, and what initial_sync syncs (kompy/dev/plan.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kompy.compose.loader import LoadOptions, load_project
from kompy.dev.plan import config_files, exec_command, initial_plans, plan_changes
from kompy.model import Project


def load(root: Path, text: str) -> Project:
    (root / "compose.yaml").write_text(textwrap.dedent(text))
    return load_project(LoadOptions(cwd=str(root), files=("compose.yaml",), environ={}))


PROJECT = """
services:
  web:
    build: ./web
    develop:
      watch:
        - path: ./web/conf
          action: sync+restart
          target: /conf
          initial_sync: true
        - path: ./extra
          action: sync+exec
          target: /srv
          ignore: ["*.tmp"]
          initial_sync: true
          exec:
            command: [make, reload]
            user: app
            working_dir: /srv
            privileged: true
            environment: [MODE=dev, UNSET]
        - path: ./web/www
          action: sync
          target: /www
"""


def project(tmp_path: Path) -> Project:
    for path in ("web/Dockerfile", "web/conf/a.conf", "web/conf/skip.log", "web/www/i.html",
                 "extra/x.txt", "extra/sub/y.txt", "extra/z.tmp"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    (tmp_path / "web" / ".dockerignore").write_text("**/*.log\n")
    return load(tmp_path, PROJECT)


def test_exec_options_become_the_command(tmp_path: Path) -> None:
    rule = project(tmp_path).services["web"].develop.watch[1]  # type: ignore[union-attr]
    command = exec_command(rule)
    assert command is not None and command.privileged
    assert tuple(command) == (
        "su", "-s", "/bin/sh", "app", "-c", 'exec "$0" "$@"', "--",
        "sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", "/srv",
        "env", "MODE=dev", "make", "reload")


def test_a_batch_runs_the_wrapped_command(tmp_path: Path) -> None:
    p = project(tmp_path)
    result = plan_changes(p, [str(tmp_path / "extra" / "x.txt")], config_files(p))
    (command,) = result.services["web"].exec_commands
    assert command[0] == "su" and command[-2:] == ("make", "reload")


def test_initial_sync(tmp_path: Path) -> None:
    plans = initial_plans(project(tmp_path))
    web = plans["web"]
    assert [(op.container_path, op.deleted) for op in web.syncs] == [
        ("/conf/a.conf", False), ("/srv/sub/y.txt", False), ("/srv/x.txt", False)]
    # conf is in the build context: the image has it, no restart; the sync+exec rule's
    # command runs; the plain sync rule has no initial_sync.
    assert not web.restart
    assert [tuple(c)[-2:] for c in web.exec_commands] == [("make", "reload")]


def test_initial_sync_restarts_for_files_the_image_lacks(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.conf").write_text("x")
    p = load(tmp_path, """
        services:
          web:
            build: ./web
            develop:
              watch:
                - {path: ./conf, action: sync+restart, target: /conf, initial_sync: true}
        """)
    assert initial_plans(p)["web"].restart
