"""The images a deployment runs: content-hash tags, ``--default-repo``, push.

Each service with ``build:`` runs ``[default repo/]<name>:<content tag>``: ``<name>`` is the
image the converter names (the service's ``image:``, else ``<project>-<service>``), rewritten
under ``--default-repo`` with Skaffold's rules (kompy/engine/refs.py), and the tag is the
first 16 hex digits of the hash of the build's inputs (kompy/engine/contexthash.py), as
Skaffold's ``inputDigest`` tagger does. So:

- an unchanged service has the same tag: it is not built again (the engine has the image),
  not pushed again (the registry holds it), and its pods are not rolled (same template);
- a changed one gets a new tag, so a pod template change, so a rolling update, on any
  cluster, without ``imagePullPolicy: Always``;
- the build also keeps the Compose name (``devloop-web:dev``, ``webapp-web:latest``)
  pointing at the newest build, as ``docker compose build`` tags it.

Pushing happens only when asked (``--push``, or ``--default-repo``): a cluster on the same
engine (the built-in one) finds the images there. Older content tags of a name are
untagged once five more recently tagged ones exist, so a long session does not pile up
images (pods still running an old one keep it: untagging removes a name, not an image in
use).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, TextIO

from kompy.engine.images import BuildSpec

KEEP_CONTENT_TAGS = 5
# Where manifests hold pod specs, by kind.
_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True)
class ImageTarget:
    """Where the images go: under ``default_repo`` (None: their own names), and whether
    they are pushed."""

    default_repo: str | None = None
    push: bool = False


@dataclass(frozen=True)
class ServiceImage:
    service: str
    name: str       # what the converter wrote in the manifests
    ref: str        # what the pods run
    image_id: str
    built: bool     # built now (False: the engine had it)
    pushed: bool    # pushed now (False: not asked, or the registry had it)


Build = Callable[[BuildSpec], str]  # builds a spec (its ``image`` is the tag), returns the id


def image_ref(spec: BuildSpec, target: ImageTarget, digest: str) -> str:
    from kompy.engine.contexthash import content_tag
    from kompy.engine.refs import rewrite_default_repo, with_tag

    return with_tag(rewrite_default_repo(spec.image, target.default_repo), content_tag(digest))


def prepare(specs: tuple[BuildSpec, ...], target: ImageTarget, build: Build,
            say: Callable[[str], None], push_out: TextIO | None = None,
            terminal: bool = False, tidy: bool = True) -> list[ServiceImage]:
    """Build what is not built yet, push what the registry lacks; one entry per spec.
    Without ``tidy``, the caller names and untags later (:func:`tidy_tags`): the dev loop
    does so once the new pods run, since the pods need neither, and under load the engine
    takes seconds to remove a tag, which the rollout would wait for."""
    from kompy.engine.contexthash import build_digest
    from kompy.engine.images import inspect_image, tag_image

    def base_id(ref: str) -> str | None:
        found = inspect_image(ref)
        return found.id if found else None

    out: list[ServiceImage] = []
    for spec in specs:
        digest = build_digest(spec, base_id)
        ref = image_ref(spec, target, digest) if digest else ""
        found = inspect_image(ref) if ref else None
        if found is not None:
            image_id, built = found.id, False
            say(f"{spec.service}: {ref} is up to date")
        else:
            # A remote context (git URL) cannot be hashed before building: its tag is the
            # built image's id.
            image_id = build(replace(spec, image=ref) if ref else spec)
            if not ref:
                ref = image_ref(spec, target, image_id.split(":")[-1])
                tag_image(image_id, ref)
            built = True
        image = ServiceImage(spec.service, spec.image, ref, image_id, built, False)
        if tidy:
            tidy_tags([image])
        pushed = False
        if target.push:
            pushed = _push(spec.service, ref, say, push_out, terminal)
        out.append(replace(image, pushed=pushed))
    return out


_PUSHED: set[tuple[str, str]] = set()  # (ref, image id) pushed by this process


def _push(service: str, ref: str, say: Callable[[str], None], out: TextIO | None,
          terminal: bool) -> bool:
    from kompy.engine.images import inspect_image
    from kompy.engine.registry import PushProgress, is_pushed, push_image

    found = inspect_image(ref)
    key = (ref, found.id if found else "")
    if key in _PUSHED or is_pushed(ref):
        _PUSHED.add(key)
        say(f"{service}: {ref} is in the registry already")
        return False
    say(f"pushing {service} ({ref})")
    start = time.monotonic()
    progress = PushProgress(out, terminal, say=None if terminal else say) \
        if out is not None else None
    try:
        push_image(ref, progress)
    finally:
        if progress is not None:
            progress.finish()
    _PUSHED.add(key)
    say(f"pushed {service} in {time.monotonic() - start:.1f} s")
    return True


def tidy_tags(images: list[ServiceImage]) -> None:
    """The Compose name of each image follows its newest build; the old content tags of
    the images built now are removed (all but the :data:`KEEP_CONTENT_TAGS` most recently
    tagged)."""
    from kompy.engine.images import tag_image, untag_content_tags

    for image in images:
        if image.name != image.ref:
            tag_image(image.image_id, image.name)
        if image.built:
            untag_content_tags(image.ref, keep=KEEP_CONTENT_TAGS)


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The pod specs of the manifests: of Pods, and the pod templates of every workload."""
    for obj in objects:
        path = _POD_SPEC_PATHS.get(str(obj.get("kind")))
        if path is None:
            continue
        spec: Any = obj
        for key in path:
            spec = spec.get(key) if isinstance(spec, dict) else None
        if isinstance(spec, dict):
            yield spec


def use_images(objects: list[dict[str, Any]], refs: Mapping[str, str]) -> None:
    """Point every container (and init container) whose image is a key of ``refs`` at its
    value, in every kind that holds a pod template."""
    for spec in pod_specs(objects):
        for field in ("initContainers", "containers"):
            for container in spec.get(field) or []:
                image = str(container.get("image") or "")
                if image in refs:
                    container["image"] = refs[image]
