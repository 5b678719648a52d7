"""The Docker adapter on the real engine: image inspection, and a failed push told plainly."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from kompy.engine.connection import connect
from kompy.engine.images import image_exists, inspect_image
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
