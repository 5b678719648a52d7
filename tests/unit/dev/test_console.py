"""kompy's own lines set apart from the pods' logs; colour and the live line only on a
terminal; the build's progress as a live line there and as plain lines elsewhere."""

from __future__ import annotations

import io

import pytest

from kompy.dev.builder import BuildProgress
from kompy.dev.console import Console, wants_colour


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_output_has_no_escape_codes() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, tag="[kompy]")
    console.say("web: synced 1 file into 2 pods (0.05 s)")
    console.say("up to date in 0.21 s", "green")
    console.live("building web: step 1/3")   # no live line off a terminal
    console.warn("careful")
    console.error("broken")
    assert out.getvalue() == ("[kompy] web: synced 1 file into 2 pods (0.05 s)\n"
                              "[kompy] up to date in 0.21 s\n")
    assert err.getvalue() == "warning: careful\nerror: broken\n"


def test_a_terminal_gets_colours_and_a_live_line_that_other_lines_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out = Tty()
    console = Console(out, out, tag="[kompy]")
    assert console.terminal
    console.live("building web: step 2/3 COPY . /app")
    console.say("starting the built-in cluster 'default'...")
    console.live(None)
    text = out.getvalue()
    # The live line is taken back (\r, erase line) before the status line, then drawn again.
    assert text == ("building web: step 2/3 COPY . /app"
                    "\r\033[K\033[1m[kompy]\033[0m starting the built-in cluster 'default'...\n"
                    "building web: step 2/3 COPY . /app\r\033[K")
    assert console.paint("boom", "red") == "\033[31mboom\033[0m"


def test_no_color_and_dumb_terminals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not wants_colour(Tty())
    monkeypatch.setenv("TERM", "xterm")
    assert wants_colour(Tty()) and not wants_colour(io.StringIO())


BUILD_LOG = ["Step 1/3 : FROM kompy/busybox:1", " ---> 5c02decc5646",
             "Step 2/3 : COPY www /www", " ---> Using cache", " ---> 1a2b3c4d5e6f",
             "Step 3/3 : RUN echo 1 > /www/build.txt", " ---> Running in 0f0f0f0f0f0f",
             "Removing intermediate container 0f0f0f0f0f0f", " ---> 9a9a9a9a9a9a",
             "Successfully built 9a9a9a9a9a9a", "Successfully tagged devloop-web:dev"]


def test_build_progress_in_plain_lines() -> None:
    out = io.StringIO()
    progress = BuildProgress(Console(out, out), "web")
    for line in BUILD_LOG:
        progress.line(line)
    assert out.getvalue().splitlines() == [
        "  web | Step 1/3 : FROM kompy/busybox:1", "  web | Step 2/3 : COPY www /www",
        "  web |  ---> Using cache", "  web | Step 3/3 : RUN echo 1 > /www/build.txt",
        "  web |  ---> Running in 0f0f0f0f0f0f"]
    assert progress.summary() == " (3 steps, 1 cached)"


def test_build_progress_as_one_live_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Tty()
    shown: list[str] = []
    console = Console(out, out, colour=True)
    monkeypatch.setattr(console, "live", lambda text: shown.append(text or ""))
    progress = BuildProgress(console, "web")
    for line in BUILD_LOG:
        progress.line(line)
    assert shown[0] == "building web: step 1/3 FROM kompy/busybox:1"
    assert "building web: step 3/3 RUN echo 1 > /www/build.txt: ---> Running in 0f0f0f0f0f0f" \
        in shown
    assert out.getvalue() == ""   # nothing but the live line
