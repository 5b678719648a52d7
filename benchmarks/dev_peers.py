"""The peers of ``kompy dev``'s rebuild in bench_dev.py's run: the same Dockerfile edits on
the same engine, without kompy.

- ``compose``: what a Docker Compose user runs after the save, ``docker-compose up -d
  --build`` (Debian's docker-compose 1.29): the build, then the service's container
  replaced; timed from the write to the first answer on the published port.
- ``floor``: the engine work a rebuild cannot skip, as bare Docker API calls: the build
  (the classic builder, as kompy and docker-compose 1.29 use it, with kompy's arguments)
  and a new container from the image on a user-defined bridge (as a pod's), timed from
  the write to its first answer at its own address. No orchestration, no port publishing,
  no quiet time: any tool's rebuild on this engine takes at least this.

Each edit writes a number never built before, so no build is served from the engine's
layer cache.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import uuid
from pathlib import Path

import docker

# benchmarks/waiting.py: run as a script, this folder is on the path.
from waiting import until_served

# Compose's ``develop`` (watch rules) is newer than docker-compose 1.29, which refuses it.
COMPOSE_FILE = """\
services:
  web:
    build: ./web
    image: {image}
    ports:
      - "127.0.0.1:{port}:8000"
"""


def compose_rebuilds(project: Path, port: int, values: list[int]) -> list[float]:
    """Seconds from each edit to its content served, by ``docker-compose up -d --build``
    (the first ``up``, which makes the network and container, is not timed)."""
    name = f"kompy-devpeer-{uuid.uuid4().hex[:6]}"
    compose = project / "compose.peer.yaml"
    compose.write_text(COMPOSE_FILE.format(image=f"{name}-web:dev", port=port))
    base = ["docker-compose", "-f", str(compose), "-p", name]
    dockerfile = project / "web" / "Dockerfile"
    original = dockerfile.read_text()
    client = docker.from_env(timeout=600)
    images: list[str] = []   # each build's image: a rebuild leaves the last one dangling
    times: list[float] = []
    try:
        subprocess.run([*base, "up", "-d", "--build"], cwd=project, check=True,
                       capture_output=True)
        images.append(client.images.get(f"{name}-web:dev").id)
        for value in values:
            start = time.monotonic()
            dockerfile.write_text(edited_dockerfile(original, value))
            subprocess.run([*base, "up", "-d", "--build"], cwd=project, check=True,
                           capture_output=True)
            until_served(f"http://127.0.0.1:{port}/build.txt", str(value))
            times.append(round(time.monotonic() - start, 3))
            images.append(client.images.get(f"{name}-web:dev").id)
    finally:
        subprocess.run([*base, "down", "-t", "2"], cwd=project, capture_output=True)
        _remove_images(client, images)
        dockerfile.write_text(original)
        compose.unlink()
    return times


def floor_rebuilds(project: Path, values: list[int]) -> list[float]:
    """Seconds from each edit to its content served by a new container, by bare API calls
    (the build; a create, a start and an inspect, as a kubelet makes them); the old
    container goes after, off the clock."""
    client = docker.from_env(timeout=600)
    name = f"kompy-devfloor-{uuid.uuid4().hex[:6]}"
    network = client.networks.create(name, driver="bridge")
    dockerfile = project / "web" / "Dockerfile"
    original = dockerfile.read_text()
    images: list[str] = []
    containers: list[str] = []
    times: list[float] = []
    try:
        for value in values:
            start = time.monotonic()
            dockerfile.write_text(edited_dockerfile(original, value))
            images.append(_build(client, project / "web", f"{name}:dev"))
            container = client.api.create_container(
                images[-1], host_config=client.api.create_host_config(network_mode=name))["Id"]
            containers.append(container)
            client.api.start(container)
            address = client.api.inspect_container(container)["NetworkSettings"][
                "Networks"][name]["IPAddress"]
            until_served(f"http://{address}:8000/build.txt", str(value))
            times.append(round(time.monotonic() - start, 3))
            while len(containers) > 1:
                client.api.remove_container(containers.pop(0), force=True)
    finally:
        for container in containers:
            client.api.remove_container(container, force=True)
        network.remove()
        _remove_images(client, images)
        dockerfile.write_text(original)
    return times


def _build(client: docker.DockerClient, context: Path, tag: str) -> str:
    """The image id of the classic builder's build, with kompy's arguments
    (kompy/engine/images.py)."""
    image = ""
    for chunk in client.api.build(path=str(context), tag=tag, rm=True, forcerm=True,
                                  pull=False, decode=True):
        if "error" in chunk:
            raise SystemExit(f"the floor's build failed: {chunk['error']}")
        image = (chunk.get("aux") or {}).get("ID", image)
    return image


def _remove_images(client: docker.DockerClient, images: list[str]) -> None:
    """Each image and the build steps only it used (``docker rmi``'s default)."""
    for image in reversed(images):
        with contextlib.suppress(docker.errors.APIError):   # gone with a later one
            client.api.remove_image(image, force=True)


def edited_dockerfile(dockerfile: str, value: int) -> str:
    """The sample's Dockerfile with ``value`` in its ``RUN echo N`` step: a rebuild edit."""
    return re.sub(r"echo \d+ >", f"echo {value} >", dockerfile)
