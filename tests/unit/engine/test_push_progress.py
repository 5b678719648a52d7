"""How a push is shown: plain lines off a terminal, one redrawn line on a terminal."""

from __future__ import annotations

import io

from kompy.engine.registry import PushEvent, PushProgress

EVENTS = [
    PushEvent("", "The push refers to repository [127.0.0.1:5000/web]"),
    PushEvent("aaa", "Preparing"), PushEvent("bbb", "Preparing"),
    PushEvent("aaa", "Pushing", 1_000_000, 4_000_000),
    PushEvent("bbb", "Layer already exists"),
    PushEvent("aaa", "Pushing", 4_000_000, 4_000_000),
    PushEvent("aaa", "Pushed"),
    PushEvent("", "abc: digest: sha256:00 size: 527"),
]


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = PushProgress(out, terminal=False)
    for event in EVENTS:
        progress(event)
    progress.finish()
    assert out.getvalue() == "  bbb: Layer already exists\n  aaa: Pushed\n"


def test_one_redrawn_line_on_a_terminal() -> None:
    out = io.StringIO()
    progress = PushProgress(out, terminal=True)
    for event in EVENTS:
        progress(event)
    assert progress.summary() == "  2/2 layers pushed, 4.0 MB of 4.0 MB"
    progress.finish()
    text = out.getvalue()
    assert "\n" not in text and text.endswith("\r\x1b[K")
    assert "1/2 layers pushed" in text
