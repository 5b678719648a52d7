"""The Docker adapter on the real engine: image inspection, and a failed push told plainly."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator

import leakkit
import pytest

from kompy.engine.connection import connect
from kompy.engine.images import (
    BuildSpec,
    build_image,
    image_exists,
    inspect_image,
    tag_image,
    untag_content_tags,
)
from kompy.engine.registry import push_image
from kompy.errors import UserError

pytestmark = pytest.mark.integration
BASE = "kompy/busybox:1"


@pytest.fixture(scope="module")
def engine() -> Iterator[None]:
    try:
        connect(timeout=5).close()
    except Exception:  # noqa: BLE001 - any failure means: no engine to test against
        pytest.skip("no Docker engine")
    if not image_exists(BASE):
        pytest.skip(f"{BASE} is not built (samples/base-images/build.sh)")
    yield


def test_inspect_image_of_a_local_image(engine: None) -> None:
    found = inspect_image(BASE)
    assert found is not None
    assert found.id.startswith("sha256:")
    assert found.user == ""  # busybox runs as root by default


def test_inspect_image_of_a_missing_image(engine: None) -> None:
    assert inspect_image(f"kompy-test-absent-{uuid.uuid4().hex[:8]}:1") is None


def test_push_to_a_registry_that_does_not_answer(engine: None) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ref = f"127.0.0.1:{port}/{leakkit.image_name('push')}:1"
    client = connect()
    client.api.tag(BASE, ref.rsplit(":", 1)[0], tag="1")
    try:
        with pytest.raises(UserError) as caught:
            push_image(ref)
        assert caught.value.message.startswith(
            f"pushing image {ref} to registry 127.0.0.1:{port} failed: ")
        assert "\n" not in caught.value.message
    finally:
        client.api.remove_image(ref)
        client.close()


def test_untagging_keeps_the_most_recently_tagged_content_tags(engine: None) -> None:
    """A build answered from the layer cache is an old image tagged now: another session's
    untagging keeps its tag (it counts by when images were tagged, not built)."""
    repo = leakkit.image_name("untag")
    ids = [build_image(BuildSpec(service="t", image=f"{repo}:build{n}", context=".",
                                 dockerfile_inline=f"FROM {BASE}\nLABEL n={n}\n"))
           for n in range(3)]
    try:
        old, middle, new = ids   # built in this order
        for n, image_id in enumerate(ids):
            tag_image(image_id, f"{repo}:{n:016x}")
        tag_image(old, f"{repo}:{9:016x}")      # the oldest build, tagged again now
        untag_content_tags(f"{repo}:{2:016x}", keep=2)
        assert image_exists(f"{repo}:{9:016x}")
        assert image_exists(f"{repo}:{2:016x}")       # never the reference itself
        assert not image_exists(f"{repo}:{1:016x}")   # the least recently tagged
    finally:
        client = connect(timeout=60)
        for image_id in ids:
            with contextlib.suppress(Exception):
                client.api.remove_image(image_id, force=True)
        client.close()


def test_an_untagged_build_goes_with_the_steps_only_it_used(engine: None) -> None:
    """A rebuild after a change of the Dockerfile's RUN line: the older build's RUN step
    (the parent of its CMD step) goes with its last tag instead of staying dangling, and the
    steps both builds share stay (the layer cache)."""
    repo = leakkit.image_name("prune")
    client = connect(timeout=60)
    ids: list[str] = []
    try:
        for n in range(2):
            ids.append(build_image(BuildSpec(
                service="t", image=f"{repo}:build{n}", context=".",
                dockerfile_inline=f"FROM {BASE}\nENV SHARED=1\nRUN echo {n} > /n\n"
                                  'CMD ["cat", "/n"]\n')))
            tag_image(ids[-1], f"{repo}:{n:016x}")
            client.api.remove_image(f"{repo}:build{n}")   # the content tag is its name
        old_build, new_build = ids
        old_run_step = client.api.inspect_image(old_build)["Parent"]
        shared_step = client.api.inspect_image(old_run_step)["Parent"]
        ids[:0] = [shared_step, old_run_step]   # (removed at the end if still there)
        assert old_run_step and shared_step
        untag_content_tags(f"{repo}:{1:016x}", keep=1)
        assert not image_exists(old_build)
        assert not image_exists(old_run_step), "the old build's RUN step was left dangling"
        assert image_exists(shared_step) and image_exists(new_build)
    finally:
        for image_id in reversed(ids):
            with contextlib.suppress(Exception):
                client.api.remove_image(image_id, force=True)
        client.close()
