"""The built-in cluster pulls from registries as a node does: Debian's docker-registry on
127.0.0.1 (an insecure registry Docker allows on loopback), imagePullPolicy Always /
IfNotPresent / Never, and imagePullSecrets for a registry that wants a password."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import leakkit
import pytest
from clusterkit import BUSYBOX, pod, running, sh, wait_for
from registrykit import REGISTRY_USER, free_port

from kompy.engine.connection import connect
from kompy.engine.images import BuildSpec, build_image, inspect_image, tag_image
from kompy.engine.registry import push_image

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two small images whose /marker says "v1" and "v2" (ids by name)."""
    made: dict[str, str] = {}
    refs: list[str] = []
    try:
        for version in ("v1", "v2"):
            folder = tmp_path_factory.mktemp(version)
            (folder / "marker").write_text(f"{version} {uuid.uuid4().hex}\n")
            ref = f"{leakkit.image_name('pull')}:{version}"
            refs.append(ref)
            made[version] = build_image(BuildSpec(
                service=version, image=ref, context=str(folder),
                dockerfile_inline=f"FROM {BUSYBOX}\nCOPY marker /marker\n"))
            made[f"{version}-marker"] = (folder / "marker").read_text().strip()
        yield made
    finally:
        # Once the pods of the module's (deleted) namespaces no longer run them: removing
        # an image a container still uses fails, which used to be ignored (a leak).
        leakkit.remove_images(refs)


def remove(ref: str) -> None:
    """Untag ``ref`` now if nothing runs it (a pod still may: the registry fixture removes
    whatever is left under its prefix at the end)."""
    client = connect()
    try:
        with contextlib.suppress(Exception):  # gone, or in use
            client.api.remove_image(ref)
    finally:
        client.close()


def marker(client: Any, name: str, ns: str) -> str:
    return sh(client, name, ns, "cat /marker").strip()


def app(name: str, ns: str, image: str, policy: str | None = None, **spec: Any
        ) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image,
                                 "command": ["sh", "-c", "sleep 3600"]}
    if policy:
        container["imagePullPolicy"] = policy
    return pod(name, ns, container, **spec)


def waiting_reason(client: Any, name: str, ns: str) -> str:
    statuses = (client.get("pods", name, ns).get("status") or {}).get("containerStatuses")
    waiting = ((statuses or [{}])[0].get("state") or {}).get("waiting") or {}
    return f"{waiting.get('reason')}: {waiting.get('message')}"


def test_pull_policies_against_a_local_registry(client: Any, namespace: str, registry: Any,
                                                images: dict[str, str]) -> None:
    ref = f"{registry.prefix}/app:1"
    # The registry holds v2 under the tag; the engine holds v1 under the same name (with
    # the digest it got when it pushed v1 there): Always must fetch v2, IfNotPresent keep v1.
    tag_image(images["v1"], ref)
    push_image(ref)
    tag_image(images["v2"], ref)
    push_image(ref)
    tag_image(images["v1"], ref)
    try:
        client.create(app("always", namespace, ref, "Always"))
        running(client, "always", namespace)
        assert marker(client, "always", namespace) == images["v2-marker"]
        tag_image(images["v1"], ref)  # the pull moved the local tag to v2
        client.create(app("present", namespace, ref, "IfNotPresent"))
        running(client, "present", namespace)
        assert marker(client, "present", namespace) == images["v1-marker"]
        # Never: the image must be there already.
        remove(ref)
        client.create(app("never", namespace, ref, "Never"))
        wait_for("ErrImageNeverPull", lambda: waiting_reason(
            client, "never", namespace).startswith("ErrImageNeverPull"), timeout=30)
        # Absent locally, IfNotPresent pulls (the :1 tag defaults to IfNotPresent).
        client.create(app("pulled", namespace, ref))
        stored = client.get("pods", "pulled", namespace)
        assert stored["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
        running(client, "pulled", namespace)
        assert marker(client, "pulled", namespace) == images["v2-marker"]
        found = inspect_image(ref)
        assert found is not None and any(d.startswith(f"{registry.prefix}/app@")
                                         for d in found.repo_digests)
        reasons = [e.get("reason") for e in client.list("events", namespace)["items"]
                   if (e.get("involvedObject") or {}).get("name") == "pulled"]
        assert "Pulling" in reasons and "Pulled" in reasons
    finally:
        remove(ref)


def test_image_pull_secret_for_a_registry_with_a_password(
        client: Any, namespace: str, auth_registry: Any, images: dict[str, str]) -> None:
    user, password = REGISTRY_USER
    ref = f"{auth_registry.prefix}/private:1"
    tag_image(images["v1"], ref)
    engine = connect()
    try:
        repo, tag = ref.rsplit(":", 1)
        for chunk in engine.api.push(repo, tag=tag, stream=True, decode=True,
                                     auth_config={"username": user, "password": password}):
            assert "error" not in chunk, chunk
    finally:
        engine.close()
    remove(ref)
    assert auth_registry.tags(f"{auth_registry.prefix}/private") == ["1"]
    try:
        client.create(app("anonymous", namespace, ref))
        wait_for("the anonymous pull to fail", lambda: waiting_reason(
            client, "anonymous", namespace).startswith(("ErrImagePull", "ImagePullBackOff")),
            timeout=30)
        assert "no basic auth credentials" in waiting_reason(client, "anonymous", namespace) \
            or "unauthorized" in waiting_reason(client, "anonymous", namespace)
        config = {"auths": {auth_registry.host: {
            "auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
        client.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "registry", "namespace": namespace},
                       "type": "kubernetes.io/dockerconfigjson",
                       "data": {".dockerconfigjson": base64.b64encode(
                           json.dumps(config).encode()).decode()}})
        client.create(app("authed", namespace, ref,
                          imagePullSecrets=[{"name": "registry"}]))
        running(client, "authed", namespace)
        assert marker(client, "authed", namespace) == images["v1-marker"]
        # The password is nowhere in what the cluster tells about the pods.
        events = json.dumps(client.list("events", namespace))
        assert password not in events
    finally:
        remove(ref)


def test_a_failed_pull_names_the_registry(client: Any, namespace: str) -> None:
    ref = f"127.0.0.1:{free_port()}/kompy-test-nothing/app:1"
    client.create(app("unreachable", namespace, ref))
    wait_for("the pull to fail", lambda: waiting_reason(
        client, "unreachable", namespace).startswith(("ErrImagePull", "ImagePullBackOff")),
        timeout=30)
    assert ref in waiting_reason(client, "unreachable", namespace)
