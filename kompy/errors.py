"""kompy's error funnel: every failure a user can see is a KompyError with an exit code.

The CLI prints ``file:line:col: key.path: message`` and ``hint: ...`` for each, and a traceback
only with ``--debug``. Exit codes: 0 ok, 1 internal error, 2 user error, 130 interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER = 2
EXIT_INTERRUPTED = 130

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class SourceLocation:
    """A position in a user's file; line and column are 1-based, as editors show them."""

    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        parts = [_shown(self.file) or "<input>"]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)


def _shown(file: str) -> str:
    """A file as a message shows it: relative to the current folder when it is inside it
    (``samples/webapp/compose.yaml``, as it was typed), else as it is."""
    if not file.startswith(os.sep):
        return file
    try:
        relative = os.path.relpath(file)
    except ValueError:
        return file
    return file if relative.startswith(os.pardir) else relative


def format_key_path(path: KeyPath) -> str:
    """``("services", "web", "ports", 0)`` -> ``services.web.ports[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class KompyError(Exception):
    """Root of every error kompy reports to a user."""

    exit_code = EXIT_INTERNAL

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        key_path: KeyPath = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.key_path = key_path
        self.hint = hint
        # Warnings of the pass that failed: printed before the error, because they often
        # explain it (an unset variable that left `:/media` behind).
        self.warnings: tuple[Diagnostic, ...] = ()

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location or SourceLocation()
        return (loc.file, loc.line, loc.column, self.message)

    def format(self) -> str:
        head = []
        if self.location is not None:
            head.append(str(self.location))
        if self.key_path:
            head.append(format_key_path(self.key_path))
        text = ": ".join([*head, self.message])
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.format()


class UserError(KompyError):
    """The input or the call is wrong; the user can fix it. Exit status 2."""

    exit_code = EXIT_USER


class ComposeError(UserError):
    """A Compose file cannot be loaded, interpolated, merged or validated."""


class ConvertError(UserError):
    """A valid Compose project asks for something that cannot be expressed in Kubernetes."""


class ClusterError(UserError):
    """The built-in cluster or a Kubernetes API refused or failed a request."""


class ClusterUnreachable(ClusterError):
    """No cluster answered at all (connection refused, no answer in time): nothing was
    done there, and nothing more can be (a clean-up, say) until it answers."""


class InternalError(KompyError):
    """A bug in kompy or its templates (for example a rendered object fails its schema)."""

    exit_code = EXIT_INTERNAL


class MultiError(UserError):
    """Several problems found in one pass, reported all at once, sorted by position."""

    def __init__(self, errors: Iterable[KompyError]) -> None:
        self.errors: Sequence[KompyError] = sorted(errors, key=KompyError.sort_key)
        first = self.errors[0] if self.errors else None
        super().__init__(
            f"{len(self.errors)} problem(s) found",
            location=first.location if first else None,
        )
        if any(e.exit_code == EXIT_INTERNAL for e in self.errors):
            self.exit_code = EXIT_INTERNAL

    def format(self) -> str:
        return "\n".join(e.format() for e in self.errors)


def raise_all(errors: Sequence[KompyError]) -> None:
    """Raise nothing, the single error, or a MultiError holding all of them."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultiError(errors)


@dataclass(frozen=True)
class Diagnostic:
    """A warning: something kompy did not map exactly, with where it was written.

    Collected during a run and printed by the CLI as ``warning: file:line:col: key: message``;
    ``--strict`` turns them into errors.
    """

    message: str
    location: SourceLocation | None = None
    key_path: KeyPath = ()
    hint: str | None = None

    def format(self) -> str:
        return KompyError(
            self.message, location=self.location, key_path=self.key_path, hint=self.hint
        ).format()

    def to_error(self) -> UserError:
        return UserError(
            self.message, location=self.location, key_path=self.key_path, hint=self.hint
        )
