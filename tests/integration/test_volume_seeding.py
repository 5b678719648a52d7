"""The volume seed script (kompy/convert/seeding.py) on the real Docker engine: what it leaves
in a volume is what Docker's own copy-up leaves there.

Each case mounts a fresh Docker volume with ``volume-nocopy`` (so Docker copies nothing
itself, as Kubernetes never does) at ``/kompy-volume`` in a container of the service's
image, with the static busybox that the ``kompy-tools`` init container copies out of the
helper image, and runs the seed script exactly as the converter writes it. Then it compares
the volume with what ``docker run -v VOLUME:/srv/data IMAGE`` leaves (Docker's copy-up: the
reference). Everything is labelled ``kompy.test=<run id>`` and removed by that label.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from kompy.convert.seeding import BUSYBOX, SEED_PATH, TOOLS_PATH, seed_script

pytestmark = pytest.mark.integration

HELPER = "kompy/busybox:1"  # static busybox (Debian's busybox-static), as busybox:*-musl


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def run_id() -> Iterator[str]:
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("no Docker engine")
    if subprocess.run(["docker", "image", "inspect", HELPER],
                      capture_output=True).returncode != 0:
        pytest.skip(f"{HELPER} is missing: bash samples/base-images/build.sh")
    label = f"seed-{uuid.uuid4().hex[:10]}"
    yield label
    for listing, removal in ((["ps", "-aq"], ["rm", "-f"]),
                             (["volume", "ls", "-q"], ["volume", "rm", "-f"]),
                             (["image", "ls", "-q"], ["image", "rm", "-f"])):
        ids = docker(*listing, "--filter", f"label=kompy.test={label}", check=False).split()
        if ids:
            docker(*removal, *sorted(set(ids)), check=False)


@pytest.fixture(scope="module")
def images(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``shell``: busybox with /srv/data (a file, a subfolder, owned 1000:1000, 0750);
    ``scratch``: the same files and no shell or any command; ``bare``: no /srv/data."""
    root = tmp_path_factory.mktemp("seed-images")
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "note.txt").write_text("from the image\n")
    (data / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (data / "run.sh").chmod(0o755)
    recipes = {
        "shell": f"FROM {HELPER}\nCOPY data /srv/data\n"
                 "RUN chown -R 1000:1000 /srv/data && chmod 750 /srv/data\n",
        "scratch": "FROM scratch\nCOPY --chown=1000:1000 data /srv/data\n",
        "bare": f"FROM {HELPER}\n",
    }
    out = {}
    for name, text in recipes.items():
        (root / f"{name}.Dockerfile").write_text(text)
        tag = f"kompy-test-{run_id}-{name}:1"
        docker("build", "-q", "--label", f"kompy.test={run_id}", "-t", tag,
               "-f", str(root / f"{name}.Dockerfile"), str(root))
        out[name] = tag
    return out


@pytest.fixture(scope="module")
def tools(run_id: str) -> str:
    """The kompy-tools volume, filled as the converter's first init container fills it."""
    volume = f"kompy-test-{run_id}-tools"
    docker("volume", "create", "--label", f"kompy.test={run_id}", volume)
    docker("run", "--rm", "--label", f"kompy.test={run_id}",
           "--mount", f"type=volume,src={volume},dst={TOOLS_PATH},volume-nocopy", HELPER,
           "/bin/busybox", "cp", "/bin/busybox", BUSYBOX)
    return volume


def new_volume(run_id: str, *setup: str) -> str:
    """A fresh volume, optionally prepared by a shell command run as root in it."""
    volume = f"kompy-test-{run_id}-{uuid.uuid4().hex[:8]}"
    docker("volume", "create", "--label", f"kompy.test={run_id}", volume)
    if setup:
        docker("run", "--rm", "--label", f"kompy.test={run_id}",
               "--mount", f"type=volume,src={volume},dst=/v,volume-nocopy", HELPER,
               "sh", "-c", " && ".join(setup))
    return volume


def seed(run_id: str, tools: str, volume: str, image: str, target: str = "/srv/data") -> None:
    """The seed init container, as the converter writes it (run as root)."""
    docker("run", "--rm", "--label", f"kompy.test={run_id}", "-u", "0:0",
           "--mount", f"type=volume,src={tools},dst={TOOLS_PATH},readonly,volume-nocopy",
           "--mount", f"type=volume,src={volume},dst={SEED_PATH},volume-nocopy",
           "--entrypoint", BUSYBOX, image, "sh", "-c", seed_script(target))


def listing(run_id: str, volume: str) -> str:
    """Every entry of the volume with owner, mode and content: comparable across volumes."""
    return docker("run", "--rm", "--label", f"kompy.test={run_id}",
                  "--mount", f"type=volume,src={volume},dst=/v,readonly,volume-nocopy", HELPER,
                  "sh", "-c", "cd /v && stat -c '%n %u:%g %a' . && find . -mindepth 1 | sort "
                  "| while read f; do stat -c '%n %u:%g %a' \"$f\"; "
                  "[ -f \"$f\" ] && cat \"$f\"; done; true")


def docker_copy_up(run_id: str, image: str) -> str:
    """What Docker itself puts in a new volume mounted on the image's /srv/data."""
    volume = new_volume(run_id)
    docker("create", "--label", f"kompy.test={run_id}", "-v", f"{volume}:/srv/data", image,
           "x")  # creating the container is enough: Docker copies when it mounts the volume
    return listing(run_id, volume)


def test_an_empty_volume_gets_the_image_files_and_owner_as_docker_gives_them(
        run_id: str, tools: str, images: dict[str, str]) -> None:
    volume = new_volume(run_id)
    seed(run_id, tools, volume, images["shell"])
    got = listing(run_id, volume)
    assert got.splitlines()[0] == ". 1000:1000 750", got
    assert "./sub/note.txt 1000:1000 644\nfrom the image" in got
    assert "./run.sh 1000:1000 755" in got
    assert got == docker_copy_up(run_id, images["shell"])


def test_an_image_without_a_shell_is_seeded_by_the_tools_busybox(
        run_id: str, tools: str, images: dict[str, str]) -> None:
    volume = new_volume(run_id)
    seed(run_id, tools, volume, images["scratch"])
    got = listing(run_id, volume)
    assert "./sub/note.txt 1000:1000 644\nfrom the image" in got
    assert got == docker_copy_up(run_id, images["scratch"])


def test_a_new_block_volume_lost_and_found_is_not_data(
        run_id: str, tools: str, images: dict[str, str]) -> None:
    # ext4 formats a new disk with an empty lost+found: postgres refuses such a data folder;
    # Docker's volume would have been empty.
    volume = new_volume(run_id, "mkdir -m 700 /v/lost+found")
    seed(run_id, tools, volume, images["shell"])
    got = listing(run_id, volume)
    assert "lost+found" not in got
    assert got == docker_copy_up(run_id, images["shell"])


def test_a_volume_with_data_is_left_alone(run_id: str, tools: str,
                                          images: dict[str, str]) -> None:
    volume = new_volume(run_id, "echo mine > /v/keep", "mkdir /v/lost+found")
    before = listing(run_id, volume)
    seed(run_id, tools, volume, images["shell"])
    assert listing(run_id, volume) == before
    assert "./keep 0:0 644\nmine" in before


def test_no_folder_in_the_image_leaves_the_volume_empty(run_id: str, tools: str,
                                                        images: dict[str, str]) -> None:
    volume = new_volume(run_id)
    seed(run_id, tools, volume, images["bare"])
    assert listing(run_id, volume).splitlines() == [". 0:0 755"]
    assert listing(run_id, volume) == docker_copy_up(run_id, images["bare"])


def test_the_script_survives_odd_targets(run_id: str, tools: str,
                                         images: dict[str, str]) -> None:
    volume = new_volume(run_id)
    seed(run_id, tools, volume, images["shell"], target="/srv/data/")
    assert "./sub/note.txt" in listing(run_id, volume)
    other = new_volume(run_id)
    seed(run_id, tools, other, images["shell"], target="/no such/folder")
    assert listing(run_id, other).splitlines() == [". 0:0 755"]
