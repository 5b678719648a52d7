"""The Docker objects one test session makes, and what it leaves behind.

Tests run in parallel on a shared engine, so a session may only look at (and remove) what
is its own, known by two marks:

- every built-in cluster a test starts keeps its state under the session's temporary root
  (pytest's ``basetemp``), and kompy labels each container, network and volume of a
  cluster with that state folder (``kompy.home``);
- every image a test builds, tags or pushes is named under :data:`PREFIX`
  (``kompy-test-<session>-...``, or ``<registry>/kompy-test-<session>-.../...``) by
  :func:`image_name`, :func:`own_images` (a copied sample's ``build:`` services, whose
  ``:dev`` names belong to whoever runs the sample by hand) or the registry fixture's
  prefix.

At the end of the session (tests/conftest.py) anything still carrying those marks is a leak:
reported, removed, and the session fails.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SESSION = uuid.uuid4().hex[:8]
PREFIX = f"kompy-test-{SESSION}"
HOME_LABEL = "kompy.home"   # kompy.cluster.kubelet.backend.LABEL_HOME
_OURS = re.compile(rf"(^|/){re.escape(PREFIX)}-")


_MADE: list[str] = []   # the repositories own_images named, in order


def image_name(kind: str) -> str:
    """A repository name of this session's own: ``kompy-test-<session>-<kind>-<random>``."""
    return f"{PREFIX}-{kind}-{uuid.uuid4().hex[:6]}"


def is_ours(ref: str) -> bool:
    """Whether an image reference (``name:tag``, ``host:port/name:tag``) is this session's."""
    return bool(_OURS.search(ref))


def _engine() -> Any:
    import docker

    return docker.from_env(timeout=60)


def _under(home: str, root: str) -> bool:
    return home == root or home.startswith(root.rstrip("/") + "/")


def leftovers(root: Path) -> list[str]:
    """This session's Docker objects still on the engine: containers, networks and volumes
    of clusters whose state folder is under ``root``, and images named under PREFIX."""
    engine = _engine()
    try:
        api = engine.api
        filters = {"label": [HOME_LABEL]}
        mine = str(root)
        found = [f"container {c['Names'][0].lstrip('/')}"
                 for c in api.containers(all=True, filters=filters)
                 if _under((c.get("Labels") or {}).get(HOME_LABEL, ""), mine)]
        found += [f"network {n['Name']}" for n in api.networks(filters=filters)
                  if _under((n.get("Labels") or {}).get(HOME_LABEL, ""), mine)]
        found += [f"volume {v['Name']}" for v in api.volumes(filters=filters).get("Volumes") or []
                  if _under((v.get("Labels") or {}).get(HOME_LABEL, ""), mine)]
        found += [f"image {tag}" for image in api.images()
                  for tag in image.get("RepoTags") or () if is_ours(tag)]
        return sorted(found)
    finally:
        engine.close()


def remove(objects: Iterable[str]) -> list[str]:
    """Remove what :func:`leftovers` named (containers first); what could not go, and why."""
    engine = _engine()
    failed: list[str] = []
    try:
        api = engine.api
        removals = {"container": lambda n: api.remove_container(n, force=True, v=False),
                    "network": api.remove_network,
                    "volume": lambda n: api.remove_volume(n, force=True),
                    "image": lambda n: api.remove_image(n, force=True)}
        order = ("container", "network", "volume", "image")
        for item in sorted(objects, key=lambda o: order.index(o.split(" ", 1)[0])):
            kind, name = item.split(" ", 1)
            try:
                removals[kind](name)
            except Exception as error:  # noqa: BLE001 - report every failure, go on
                failed.append(f"{item}: {error}")
        return failed
    finally:
        engine.close()


def remove_images(refs: Iterable[str], timeout: float = 60.0) -> None:
    """Remove images a test made once no container runs them any more (a pod of a namespace
    being deleted may still hold one for its grace period): each reference is untagged, and
    the image goes with its last name. AssertionError naming what could not go."""
    engine = _engine()
    problems: list[str] = []
    try:
        api = engine.api
        for ref in refs:
            try:
                image_id = api.inspect_image(ref)["Id"]
            except Exception:  # noqa: BLE001 - already gone
                continue
            deadline = time.monotonic() + timeout
            while api.containers(all=True, filters={"ancestor": image_id}) and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            try:
                api.remove_image(ref)
            except Exception as error:  # noqa: BLE001 - named below
                if "No such image" not in str(error):
                    problems.append(f"{ref}: {error}")
    finally:
        engine.close()
    assert not problems, "could not remove the test's images: " + "; ".join(problems)


def images_named(prefix: str) -> list[str]:
    """The engine's image references that start with ``prefix``."""
    engine = _engine()
    try:
        return [tag for image in engine.api.images() for tag in image.get("RepoTags") or ()
                if tag.startswith(prefix)]
    finally:
        engine.close()


def own_images(compose: Path) -> list[str]:
    """Give every service of ``compose`` that has ``build:`` an image name of this session
    (its tag kept, ``latest`` when it had none), rewriting the file; the repositories named.
    :func:`made_since` finds them again for the fixture that removes them."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    data = yaml.load(compose)
    repos: list[str] = []
    for service, spec in (data.get("services") or {}).items():
        if not isinstance(spec, dict) or "build" not in spec:
            continue
        old = str(spec.get("image") or "")
        tag = old.rsplit(":", 1)[1] if ":" in old.rsplit("/", 1)[-1] else "latest"
        repo = image_name(str(service))
        spec["image"] = f"{repo}:{tag}"
        repos.append(repo)
    yaml.dump(data, compose)
    _MADE.extend(repos)
    return repos


def made_mark() -> int:
    return len(_MADE)


def made_since(mark: int) -> list[str]:
    """The repositories :func:`own_images` named since ``made_mark()`` returned ``mark``."""
    return _MADE[mark:]


def remove_repositories(repos: Iterable[str], timeout: float = 60.0) -> None:
    """Every local tag of each repository (``name`` or ``host:port/name``), removed once no
    container runs it (:func:`remove_images`)."""
    wanted = tuple(f"{repo}:" for repo in repos)
    if wanted:
        remove_images([ref for ref in images_named("") if ref.startswith(wanted)], timeout)
