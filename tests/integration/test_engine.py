"""The Docker adapter on the real engine: image inspection, and a failed push told plainly."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator

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
    ref = f"127.0.0.1:{port}/kompy-test-{uuid.uuid4().hex[:8]}:1"
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
    repo = f"kompy-test-untag-{uuid.uuid4().hex[:8]}"
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
