"""The session's leak guard (tests/leakkit.py, tests/conftest.py) on the real engine: it
names this session's leftovers, and only them, however alike another session's look."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import leakkit
import pytest
from enginekit import docker_ok

pytestmark = pytest.mark.integration

BUSYBOX = "kompy/busybox:1"


@pytest.fixture
def engine() -> Iterator[object]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    import docker

    client = docker.from_env(timeout=60)
    yield client
    client.close()


def test_the_guard_names_this_sessions_leftovers_and_no_one_elses(
        engine: object, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    api = engine.api  # type: ignore[attr-defined]
    root = tmp_path_factory.getbasetemp().resolve()
    other_session = "kompy-test-0ther5e5-guard"   # another session's prefix
    ours_volume = f"{leakkit.image_name('guard')}-vol"
    theirs_volume = f"{other_session}-vol"
    ours_image = f"{leakkit.image_name('guard')}:1"
    theirs_image = f"127.0.0.1:5999/{other_session}/app:1"
    try:
        # A cluster's volume of this session (its state folder under the session's root),
        # and one of another session's cluster (a state folder elsewhere).
        api.create_volume(ours_volume, labels={leakkit.HOME_LABEL: str(tmp_path / "c")})
        api.create_volume(theirs_volume,
                          labels={leakkit.HOME_LABEL: "/tmp/pytest-of-x/pytest-1/home/c"})
        for ref in (ours_image, theirs_image):
            repo, tag = ref.rsplit(":", 1)
            api.tag(BUSYBOX, repo, tag=tag)
        found = leakkit.leftovers(root)
        assert f"volume {ours_volume}" in found and f"image {ours_image}" in found
        assert not [item for item in found if other_session in item]
        assert leakkit.remove([f"volume {ours_volume}", f"image {ours_image}"]) == []
        assert not [item for item in leakkit.leftovers(root)
                    if ours_volume in item or ours_image in item]
    finally:
        for remove in (lambda: api.remove_volume(ours_volume), lambda: api.remove_volume(
                theirs_volume), lambda: api.remove_image(ours_image),
                lambda: api.remove_image(theirs_image)):
            with contextlib.suppress(Exception):
                remove()


def test_own_images_renames_a_samples_builds_keeping_their_tags(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("name: shop  # a comment stays\nservices:\n"
                       "  web:\n    build: ./web\n    image: shop-web:dev\n"
                       "  worker:\n    build: ./worker\n"
                       "  db:\n    image: kompy/python:3\n")
    mark = leakkit.made_mark()
    repos = leakkit.own_images(compose)
    text = compose.read_text()
    assert len(repos) == 2 and all(leakkit.is_ours(f"{repo}:x") for repo in repos)
    assert f"image: {repos[0]}:dev" in text and f"image: {repos[1]}:latest" in text
    assert "image: kompy/python:3" in text and "# a comment stays" in text
    assert leakkit.made_since(mark) == repos
    assert not leakkit.is_ours("devloop-web:dev")
    assert not leakkit.is_ours("127.0.0.1:5000/kompy-test-0ther5e5-registry-abc/app:1")
    assert leakkit.is_ours(f"127.0.0.1:5000/{leakkit.PREFIX}-registry-abc/app:1")
