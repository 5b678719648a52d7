"""What every model value needs from the outside world: a way to name where a key was written."""

from __future__ import annotations

from typing import Protocol

from kompy.errors import ComposeError, KeyPath, SourceLocation


class Locator(Protocol):
    """Maps a key path of the merged project to the file, line and column that defined it."""

    def locate(self, path: KeyPath) -> SourceLocation | None: ...


class NullLocator:
    """For values built in code or tests, where there is no file to point at."""

    def locate(self, path: KeyPath) -> SourceLocation | None:
        return None


def fail(at: Locator, path: KeyPath, message: str, hint: str | None = None) -> ComposeError:
    """Build (not raise) a ComposeError positioned at ``path``."""
    return ComposeError(message, location=at.locate(path), key_path=path, hint=hint)
