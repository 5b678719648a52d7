"""``kompy check``: fail when a Compose project does not convert or its manifests are stale."""

from __future__ import annotations

import sys

import click


@click.command("check")
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Compose file (repeatable); default: the configuration's, else discovered.")
@click.option("--manifests", metavar="DIR",
              help="Folder of committed manifests to compare with what kompy generates.")
@click.option("--fix", is_flag=True, help="Rewrite stale manifests (and remove ones kompy no "
              "longer generates) instead of failing.")
@click.option("--exit-non-zero-on-fix", is_flag=True,
              help="With --fix: exit 1 when files were changed (for pre-commit hooks).")
@click.option("--config", "config_file", metavar="FILE",
              help="Configuration file (.kompy.toml or pyproject.toml); default: found from "
              "the current directory up to the repository root.")
def check(files: tuple[str, ...], manifests: str | None, fix: bool,
          exit_non_zero_on_fix: bool, config_file: str | None) -> None:
    """Check that the Compose project converts and the committed manifests are current.

    Exit 0 when all is well, 1 when manifests are stale, 2 when the project is invalid.
    Needs no Docker engine or cluster; reads no file outside the repository.
    """
    from kompy.check import CheckRequest, run_check

    if exit_non_zero_on_fix and not fix:
        raise click.UsageError("--exit-non-zero-on-fix needs --fix")
    request = CheckRequest(files=files, manifests=manifests, fix=fix,
                           exit_non_zero_on_fix=exit_non_zero_on_fix, config_file=config_file)
    sys.exit(run_check(request, sys.stdout, sys.stderr))


COMMANDS = [check]
