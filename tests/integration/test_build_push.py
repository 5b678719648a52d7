"""``kompy build [--push] [--default-repo]`` on the real engine, pushing to Debian's
docker-registry on 127.0.0.1: content tags, a second build that builds and pushes nothing,
a change that does, an ignored file that does not, and an unreachable registry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import leakkit
import pytest

from kompy.engine.connection import connect
from kompy.engine.images import inspect_image

pytestmark = pytest.mark.integration
BASE = "kompy/busybox:1"


def kompy(*args: str, cwd: Path, code: int = 0) -> str:
    """A separate process each time: nothing remembered between two builds but the engine's
    images and the registry's content."""
    done = subprocess.run([sys.executable, "-m", "kompy", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})
    output = done.stdout + done.stderr
    assert done.returncode == code, f"kompy {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    if inspect_image(BASE) is None:
        pytest.skip(f"{BASE} is not built (samples/base-images/build.sh)")
    name = leakkit.image_name("build")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(f"FROM {BASE}\nCOPY . /www\n")
    (tmp_path / "web" / "index.html").write_text("one\n")
    (tmp_path / "web" / ".dockerignore").write_text("*.log\n")
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    build: ./web\n    image: {name}:dev\n")
    yield tmp_path, name
    engine = connect()
    try:
        for image in engine.api.images():
            for tag in image.get("RepoTags") or ():
                if name in tag:
                    engine.api.remove_image(tag, noprune=True)
    finally:
        engine.close()


def ref_of(output: str) -> str:
    match = re.search(r"^web: (\S+)$", output, re.M)
    assert match, output
    return match[1]


def test_build_push_with_default_repo(project: tuple[Path, str], registry: Any) -> None:
    folder, name = project
    repo = registry.prefix
    first = kompy("build", "--push", "--default-repo", repo, cwd=folder)
    ref = ref_of(first)
    assert re.fullmatch(rf"{re.escape(repo)}/{name}:[0-9a-f]{{16}}", ref), ref
    assert "building web" in first and "pushing web" in first
    assert re.search(r"^  [0-9a-f]{12}: Pushed$", first, re.M), first  # plain progress lines
    tag = ref.rsplit(":", 1)[1]
    assert registry.tags(f"{repo}/{name}") == [tag]
    found = inspect_image(ref)
    assert found is not None and inspect_image(f"{name}:dev") == found  # the Compose name too

    again = kompy("build", "--push", "--default-repo", repo, cwd=folder)
    assert ref_of(again) == ref
    assert "building" not in again and "pushing" not in again
    assert f"web: {ref} is up to date" in again
    assert f"web: {ref} is in the registry already" in again

    (folder / "web" / "debug.log").write_text("ignored by .dockerignore\n")
    assert ref_of(kompy("build", "--default-repo", repo, cwd=folder)) == ref

    (folder / "web" / "index.html").write_text("two\n")
    changed = kompy("build", "--push", "--default-repo", repo, cwd=folder)
    new_ref = ref_of(changed)
    assert new_ref != ref and "building web" in changed and "pushing web" in changed
    assert sorted(registry.tags(f"{repo}/{name}")) == sorted([tag, new_ref.rsplit(":", 1)[1]])


def test_without_default_repo_nothing_is_renamed_or_pushed(project: tuple[Path, str]) -> None:
    folder, name = project
    output = kompy("build", cwd=folder)
    assert re.fullmatch(rf"{name}:[0-9a-f]{{16}}", ref_of(output))
    assert "push" not in output


def test_unreachable_registry_is_one_line(project: tuple[Path, str]) -> None:
    from registrykit import free_port

    folder, name = project
    registry = f"127.0.0.1:{free_port()}"
    output = kompy("build", "--push", "--default-repo", registry, cwd=folder, code=2)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert re.fullmatch(rf"error: pushing image {re.escape(registry)}/{name}:[0-9a-f]{{16}} "
                        rf"to registry {re.escape(registry)} failed: .*connection refused.*",
                        errors[0]), errors[0]
    assert "Traceback" not in output


def test_a_refused_push_is_one_line(project: tuple[Path, str], auth_registry: Any) -> None:
    """The registry answers but wants a login the engine does not have: one line naming the
    image and the registry, with the registry's reason."""
    folder, name = project
    registry = auth_registry.host
    output = kompy("build", "--push", "--default-repo", registry, cwd=folder, code=2)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert re.fullmatch(rf"error: pushing image {re.escape(registry)}/{name}:[0-9a-f]{{16}} "
                        rf"to registry {re.escape(registry)} failed: .*(auth|unauthorized).*",
                        errors[0], re.I), errors[0]
    assert f"docker login {registry}" in output and "Traceback" not in output
