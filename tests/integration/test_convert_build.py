"""``kompy convert --build local --push-image --push-image-registry`` on the real engine, with
Debian's ``docker-registry`` on 127.0.0.1 as the registry (the ``registry`` fixture of
tests/integration/conftest.py; issue #9 class 6).

The project's one service has only ``build:`` (target, args, platforms), so the image name is
kompy's (``<project>-web:latest``); the test builds it, pushes it under the local registry and
checks the registry has it, the manifest names the pushed image, the build honoured ``target``
and ``args``, and ``platforms`` pinned the pods' architecture. Images it made are removed by
name at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import leakkit
import pytest
from enginekit import docker_ok
from registrykit import Registry
from ruamel.yaml import YAML

pytestmark = pytest.mark.integration

DOCKERFILE = """\
FROM kompy/busybox:1 AS base
ARG GREETING=unset
RUN echo "$GREETING" > /greeting
FROM base AS final
RUN echo final > /stage
FROM base AS other
RUN echo other > /stage
"""


def _kompy(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kompy", "convert", *args], cwd=folder,
                          capture_output=True, text=True, timeout=600)


def test_build_local_and_push_to_a_registry(registry: Registry, tmp_path: Path) -> None:
    if not docker_ok():
        pytest.skip("no Docker engine")
    project = f"kbuild{uuid.uuid4().hex[:8]}"
    folder = tmp_path / project
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "compose.yaml").write_text(
        "services:\n  web:\n    build:\n      context: .\n      target: final\n"
        "      args: {GREETING: hello-from-args}\n      platforms: [linux/amd64]\n"
        "    command: [\"sleep\", \"3600\"]\n")
    local = f"{project}-web:latest"
    pushed = f"{registry.host}/{project}-web:latest"
    try:
        plain = _kompy(folder, "-o", "plain")
        assert plain.returncode == 0, plain.stderr
        assert f"image {local} is built from ., not by this conversion" in plain.stderr

        done = _kompy(folder, "--build", "local", "--push-image", "--push-image-registry",
                      registry.host, "-o", "k8s", "--report", "report.json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"pushed {pushed}" in done.stderr
        assert "warning:" not in done.stderr, done.stderr
        deployment = YAML(typ="safe").load((folder / "k8s" / "web-deployment.yaml").read_text())
        pod = deployment["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == pushed
        assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
        report = json.loads((folder / "report.json").read_text())
        build = [k for k in report["services"]["web"]["keys"] if k["key"] == "services.web.build"]
        assert [k["status"] for k in build] == ["mapped"]

        assert registry.tags(f"{registry.host}/{project}-web") == ["latest"]
        ran = subprocess.run(["docker", "run", "--rm", local, "cat", "/greeting", "/stage"],
                             capture_output=True, text=True, timeout=120)
        assert ran.stdout.split() == ["hello-from-args", "final"], ran.stderr
    finally:
        subprocess.run(["docker", "image", "rm", "-f", local, pushed], capture_output=True,
                       timeout=120)


def test_local_image_metadata_fills_ports_and_user(tmp_path: Path) -> None:
    """A portless service whose local image EXPOSEs ports gets a ClusterIP Service of them,
    and a numeric USER satisfies --security restricted; --no-inspect-images gives the
    engine-free answers (issue #9 classes 2 and 3)."""
    if not docker_ok():
        pytest.skip("no Docker engine")
    image = f"{leakkit.image_name('inspect')}:1"
    (tmp_path / "Dockerfile").write_text("FROM kompy/busybox:1\nEXPOSE 8000 53/udp\nUSER 1000\n")
    (tmp_path / "compose.yaml").write_text(f"services:\n  svc:\n    image: {image}\n")
    built = subprocess.run(["docker", "build", "-q", "-t", image, str(tmp_path)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    try:
        inspected = _kompy(tmp_path, "--security", "restricted")
        assert inspected.returncode == 0, inspected.stderr
        service = next(d for d in YAML(typ="safe").load_all(inspected.stdout)
                       if d and d["kind"] == "Service")
        assert "clusterIP" not in service["spec"]
        assert sorted((p["port"], p["protocol"]) for p in service["spec"]["ports"]) == [
            (53, "UDP"), (8000, "TCP")]
        blind = _kompy(tmp_path, "--no-inspect-images")
        assert "clusterIP: None" in blind.stdout and "55555" in blind.stdout
        refused = _kompy(tmp_path, "--no-inspect-images", "--security", "restricted")
        assert refused.returncode == 2
        assert "is unknown" in refused.stderr and 'user: "<uid>"' in refused.stderr
    finally:
        subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, timeout=120)
