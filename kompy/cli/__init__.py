"""The command line: click lives here and nowhere else.

Each command parses its options and makes one call into the core, which returns an exit code.
Every error reaches the user through :func:`report`, in one format, without a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from kompy import __version__
from kompy.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, KompyError, MultiError


class KompyGroup(click.Group):
    """A click group whose commands all report errors the same way: kompy's own errors
    (:meth:`invoke`) and click's usage errors (:meth:`main`) alike."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            report_usage(error)
            sys.exit(error.exit_code)  # 2, as for every user error
        except click.ClickException as error:
            click.echo(f"error: {_sentence(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except click.Abort as abort:
            if isinstance(abort.__context__, KeyboardInterrupt):
                click.echo("interrupted", err=True)
                sys.exit(EXIT_INTERRUPTED)
            click.echo("aborted", err=True)  # a confirmation answered "no"
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KompyError as error:
            if debug:
                raise
            report(error)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`kompy get pods | head`): not an error. Point stdout at
            # /dev/null so the interpreter's final flush does not raise again.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except Exception as error:  # noqa: BLE001 - the last line of defence
            if debug:
                raise
            click.echo(
                f"internal error: {type(error).__name__}: {error}\n"
                "  hint: this is a bug in kompy; run again with --debug for the traceback "
                "and report it",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


def report(error: KompyError) -> None:
    """Print an error as ``file:line:col: key.path: message`` with its hint, to stderr.

    Each problem of a MultiError gets its own ``error:`` line, so editors and CI log parsers
    that match ``error: file:line:col`` find every one.
    """
    for warning in error.warnings:
        click.echo(f"warning: {warning.format()}", err=True)
    problems = error.errors if isinstance(error, MultiError) else [error]
    for problem in problems:
        click.echo(f"error: {problem.format()}", err=True)


def report_usage(error: click.UsageError) -> None:
    """A usage error of click's own (an unknown option, a missing argument, a bad value) in
    kompy's style: ``error: kompy get: no such option '--foo'`` and the usage as the hint."""
    ctx = error.ctx
    where = f"{ctx.command_path}: " if ctx is not None else ""
    click.echo(f"error: {where}{_sentence(error.format_message())}", err=True)
    if ctx is not None:
        usage = ctx.get_usage().replace("Usage: ", "", 1)
        click.echo(f"  hint: usage: {usage} (`{ctx.command_path} --help` for more)", err=True)


def _sentence(message: str) -> str:
    """Click's ``No such option '--foo'.`` as kompy writes messages: ``no such option ...``."""
    text = message.strip().rstrip(".")
    head, did, rest = text.partition(". Did you mean")
    if did:  # "No such option '--folow'. Did you mean '--follow'?"
        text = f"{head} (did you mean{rest})"
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=KompyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kompy")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug logs).")
def main(debug: bool, verbose: int) -> None:
    """From docker-compose.yml to Kubernetes, with a fast local inner loop."""
    level = logging.WARNING - 10 * min(verbose, 2) if not debug else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _register() -> None:
    """Attach every command module's commands; each module owns one family of commands."""
    import importlib
    import pkgutil

    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
