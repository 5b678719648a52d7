"""What ``kompy up`` and ``kompy dev`` write: status lines set apart from the pods' logs, one
live progress line on a terminal, colour only on a terminal.

As Skaffold and Tilt do, kompy's own lines are marked so they cannot be mistaken for a
pod's output: in ``kompy dev`` they start with ``[kompy]`` (bold on a terminal), while log
lines start with the pod (``web-x2x9k | ``, coloured per service). A crashed container's
last words and its exit code are red. Colour follows https://no-color.org (``NO_COLOR``) and
is off when the output is not a terminal (CI logs get plain lines, one per event).

Every write goes through one lock: the log followers, the build and the loop write from
different threads, and a line is never cut by another.
"""

from __future__ import annotations

import os
import shutil
import threading
from typing import TextIO

# SGR codes (ECMA-48) for the few styles used.
STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
# Colours cycled over services' log prefixes (as docker compose does).
SERVICE_COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def wants_colour(stream: TextIO) -> bool:
    """A terminal that is not "dumb", and no ``NO_COLOR`` in the environment."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Console:
    """Status, warning, error and log lines, and one live line (see the module)."""

    def __init__(self, out: TextIO, err: TextIO, *, tag: str = "",
                 colour: bool | None = None) -> None:
        self.out = out
        self.err = err
        self.tag = tag                                    # "[kompy]" in kompy dev
        self.terminal = wants_colour(out) if colour is None else colour
        self._lock = threading.RLock()
        self._live = ""                                   # the live line shown, if any
        self._services: dict[str, str] = {}

    # -- styles --------------------------------------------------------------------------------
    def paint(self, text: str, *styles: str) -> str:
        codes = ";".join(STYLES.get(s, s) for s in styles if s)
        if not self.terminal or not codes:
            return text
        return f"\033[{codes}m{text}\033[0m"

    def service_colour(self, service: str) -> str:
        with self._lock:
            return self._services.setdefault(
                service, SERVICE_COLOURS[len(self._services) % len(SERVICE_COLOURS)])

    # -- lines ---------------------------------------------------------------------------------
    def say(self, text: str, style: str = "") -> None:
        """A status line of kompy's own: ``[kompy] text`` in kompy dev."""
        head = f"{self.paint(self.tag, 'bold')} " if self.tag else ""
        self._write(self.out, "".join(f"{head}{self.paint(line, style)}\n"
                                      for line in text.split("\n")))

    def warn(self, text: str) -> None:
        self._write(self.err, f"{self.paint('warning:', 'yellow', 'bold')} {text}\n")

    def error(self, text: str) -> None:
        self._write(self.err, f"{self.paint('error:', 'red', 'bold')} {text}\n")

    def lines(self, text: str) -> None:
        """Lines written as they are (pods' logs, already prefixed); ``text`` ends with
        a newline."""
        self._write(self.out, text)

    def live(self, text: str | None) -> None:
        """Show ``text`` as the one live line (replacing the previous one), or clear it with
        None. Only on a terminal: elsewhere the caller prints plain lines instead."""
        if not self.terminal:
            return
        with self._lock:
            self._clear()
            self._live = _fit(text or "")
            if self._live:
                self.out.write(self._live)
            self.out.flush()

    # -- the one writer ------------------------------------------------------------------------
    def _write(self, stream: TextIO, text: str) -> None:
        with self._lock:
            live = self._live
            if live:
                self._clear()
            stream.write(text)
            stream.flush()
            if live:
                self.out.write(live)
                self.out.flush()
                self._live = live

    def _clear(self) -> None:
        if self._live:
            self.out.write("\r\033[K")
            self._live = ""


def _fit(text: str) -> str:
    """One terminal line: the live line must never wrap, or ``\\r`` cannot take it back."""
    width = shutil.get_terminal_size((100, 24)).columns - 1
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:max(0, width - 3)] + "..."
