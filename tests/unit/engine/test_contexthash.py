"""The content hash of a build: what changes it, and what does not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kompy.engine.contexthash import base_images, build_digest, content_tag
from kompy.engine.images import BuildSpec

BASES = {"kompy/busybox:1": "sha256:base1"}


def digest(spec: BuildSpec, bases: dict[str, str] | None = None) -> str:
    found = build_digest(spec, (bases or BASES).get)
    assert found is not None
    return found


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM kompy/busybox:1\nCOPY . /app\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("x = 1\n")
    (tmp_path / ".dockerignore").write_text("*.log\nnode_modules\n")
    return tmp_path


def spec(context: Path, **kw: object) -> BuildSpec:
    return BuildSpec(service="web", image="web", context=str(context), **kw)  # type: ignore[arg-type]


def test_same_inputs_same_digest_and_tag(context: Path) -> None:
    first = digest(spec(context))
    assert digest(spec(context)) == first
    assert len(first) == 64 and content_tag(first) == first[:16]


def test_what_changes_it(context: Path) -> None:
    base = digest(spec(context))
    assert digest(spec(context, args={"A": "1"})) != base
    assert digest(spec(context, target="prod")) != base
    assert digest(spec(context, labels={"x": "y"})) != base
    assert digest(spec(context), {"kompy/busybox:1": "sha256:rebuilt"}) != base
    (context / "lib" / "util.py").write_text("x = 2\n")
    changed = digest(spec(context))
    assert changed != base
    os.chmod(context / "app.py", 0o755)
    assert digest(spec(context)) != changed
    (context / "lib" / "new.py").write_text("")
    assert digest(spec(context)) != changed


def test_what_does_not(context: Path) -> None:
    base = digest(spec(context))
    (context / "debug.log").write_text("noise")  # .dockerignore'd
    (context / "node_modules").mkdir()
    (context / "node_modules" / "big.js").write_text("x")
    os.utime(context / "app.py", (1, 1))  # a touch without a change
    assert digest(spec(context)) == base


def test_dockerignore_cannot_hide_the_dockerfile(context: Path) -> None:
    (context / ".dockerignore").write_text("*\n")
    base = digest(spec(context))
    (context / "Dockerfile").write_text("FROM kompy/busybox:1\n")
    assert digest(spec(context)) != base


def test_dockerfile_outside_the_context_and_inline(context: Path, tmp_path_factory:
                                                   pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("df") / "Dockerfile.dev"
    other.write_text("FROM kompy/busybox:1\n")
    outside = digest(spec(context, dockerfile=str(other)))
    other.write_text("FROM kompy/busybox:1\nRUN true\n")
    assert digest(spec(context, dockerfile=str(other))) != outside
    inline = digest(spec(context, dockerfile_inline="FROM kompy/busybox:1\n"))
    assert inline != digest(spec(context, dockerfile_inline="FROM kompy/busybox:1\nRUN x\n"))


def test_remote_context_has_no_digest() -> None:
    assert build_digest(BuildSpec(service="w", image="w",
                                  context="https://github.com/a/b.git#main"), BASES.get) is None


def test_base_images_of_a_multi_stage_dockerfile() -> None:
    text = """# syntax=docker/dockerfile:1
ARG BASE=kompy/python:3
ARG TAG
FROM --platform=$BUILDPLATFORM ${BASE} AS build
RUN make
FROM build AS test
FROM busybox:${TAG:-1.36} \\
    AS final
COPY --from=build /out /out
FROM scratch
"""
    assert base_images(text, {}) == ["kompy/python:3", "busybox:1.36"]
    assert base_images(text, {"BASE": "python:3.12-slim", "TAG": "1"}) == [
        "python:3.12-slim", "busybox:1"]
