"""The end of a kompy dev session: the images are tidied beside the clean-up, not before it
(the tidying's engine calls took 0.6-0.7 s of every Ctrl-C before the clean-up began)."""

from __future__ import annotations

import threading
import time

from kompy.dev.loop import tidy_beside


def test_the_clean_up_starts_while_the_images_are_tidied() -> None:
    cleanup_began = threading.Event()
    seen: list[bool] = []

    def tidy() -> None:   # still tidying when the clean-up begins, or it never overlaps
        seen.append(cleanup_began.wait(5))

    tidy_beside(tidy, cleanup_began.set)
    assert seen == [True]


def test_the_session_waits_for_the_tidying_to_end() -> None:
    done = threading.Event()

    def tidy() -> None:
        time.sleep(0.2)   # the engine's calls, as slow as a busy engine's
        done.set()

    tidy_beside(tidy, None)
    assert done.is_set()


def test_a_tidying_that_hangs_does_not_hold_the_session() -> None:
    release = threading.Event()
    started = time.monotonic()
    tidy_beside(lambda: release.wait(30), None, wait=0.2)
    assert time.monotonic() - started < 5
    release.set()
