"""When the dev loop names and untags its images: after the rollout, not before it."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.dev import images
from kompy.engine import contexthash
from kompy.engine import images as engine_images
from kompy.engine.images import BuildSpec


@pytest.fixture()
def engine(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The engine's image calls, recorded; no image exists before it is built."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(contexthash, "build_digest", lambda spec, base: "ab" * 32)
    monkeypatch.setattr(engine_images, "inspect_image", lambda ref, client=None: None)
    monkeypatch.setattr(engine_images, "tag_image",
                        lambda source, ref: calls.append(("tag", source, ref)))
    monkeypatch.setattr(engine_images, "untag_content_tags",
                        lambda ref, keep: calls.append(("untag", ref)))
    return calls


def build(spec: BuildSpec) -> str:
    return "sha256:1234"


SPEC = BuildSpec(service="web", image="devloop-web:dev", context=".")


def test_prepare_names_the_build_and_untags_old_tags_by_default(engine: list[Any]) -> None:
    built = images.prepare((SPEC,), images.ImageTarget(), build, lambda line: None)
    assert built[0].ref == "devloop-web:" + "ab" * 8 and built[0].built
    assert engine == [("tag", "sha256:1234", "devloop-web:dev"),
                      ("untag", "devloop-web:" + "ab" * 8)]


def test_without_tidy_the_tags_wait_for_tidy_tags(engine: list[Any]) -> None:
    built = images.prepare((SPEC,), images.ImageTarget(), build, lambda line: None,
                           tidy=False)
    assert engine == []
    images.tidy_tags(built)
    assert engine == [("tag", "sha256:1234", "devloop-web:dev"),
                      ("untag", "devloop-web:" + "ab" * 8)]
