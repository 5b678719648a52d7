"""Image references as the engine's pull and push take them apart."""

from __future__ import annotations

import pytest

from kompy.engine.images import split_ref


@pytest.mark.parametrize(("ref", "expected"), [
    ("busybox", ("busybox", "latest")),
    ("kompy/busybox:1", ("kompy/busybox", "1")),
    ("127.0.0.1:5000/app", ("127.0.0.1:5000/app", "latest")),
    ("127.0.0.1:5000/app:v2", ("127.0.0.1:5000/app", "v2")),
    ("app@sha256:" + "a" * 64, ("app@sha256:" + "a" * 64, None)),
])
def test_split_ref(ref: str, expected: tuple[str, str | None]) -> None:
    assert split_ref(ref) == expected
