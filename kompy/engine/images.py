"""Images on the Docker engine: inspect, build (with its log lines as progress), pull, tag
(pushing and registries: registry.py; content-hash tags: contexthash.py).

Shared by the image builder of ``kompy up``/``kompy dev`` and the kubelet's Docker backend; at
the base layer, so the converter can build and push too. The engine's classic builder keeps
its layer cache between builds: a rebuild of an unchanged context costs about 0.4 s on the
development machine (a changed one, docs/dev.md "Measured").
Nothing is pulled while building (``pull=False``): the base images are local. Docker's
exceptions and the build stream's ``error`` messages become one :class:`kompy.errors.UserError`
naming the service, with the last lines of the build log.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import docker.utils
import docker.utils.build

from kompy.engine.connection import Engine, EngineError, NoSuchObject, call, error_reason, shared
from kompy.engine.containers import engine_time
from kompy.errors import UserError

LOG_TAIL = 15
_CONTENT_TAG = re.compile(r"^[0-9a-f]{16}$")
INLINE_DOCKERFILE = ".kompy.Dockerfile.inline"


@dataclass(frozen=True)
class BuildSpec:
    """What to build; mirrors Compose's ``build:`` long syntax (compose-spec build.md)."""

    service: str
    image: str  # the tag to give the result
    context: str  # a folder, or a URL the engine fetches (git)
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    cache_from: tuple[str, ...] = ()
    network: str | None = None
    platform: str | None = None  # "linux/arm64": one platform (the classic builder's limit)


def build_image(spec: BuildSpec, on_line: Callable[[str], None] | None = None) -> str:
    """Build ``spec`` and return the image id; ``on_line`` receives each log line."""
    client = shared(timeout=600)  # builds may take minutes
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)
    image_id = ""
    try:
        for chunk in client.api.build(**_build_kwargs(spec)):
            image_id = _consume(chunk, spec, tail, on_line) or image_id
    except docker.errors.DockerException as error:
        raise _failed(spec, error_reason(error), tail) from None
    except OSError as error:  # reading the context folder
        raise _failed(spec, f"{error.strerror}: {error.filename}", tail) from None
    if not image_id:
        image_id = _image_id(spec)
    return image_id


@dataclass(frozen=True)
class ImageDetails:
    """What ``docker image inspect`` says about a local image that kompy uses."""

    id: str
    repo_digests: tuple[str, ...]
    user: str  # the image's USER ("" when it runs as root by default)
    exposed_ports: tuple[str, ...]  # EXPOSE, as Docker writes them: "80/tcp"
    stop_signal: str = ""  # STOPSIGNAL ("" when the image keeps Docker's SIGTERM)


def inspect_image(ref: str, client: Engine | None = None) -> ImageDetails | None:
    """The local image ``ref``, or None when the engine has no such image."""
    engine = client or shared(timeout=600)  # the engine may be busy building
    try:
        data = call(f"image {ref}", lambda: engine.api.inspect_image(ref))
    except NoSuchObject:
        return None
    config = data.get("Config") or {}
    return ImageDetails(id=str(data["Id"]), repo_digests=tuple(data.get("RepoDigests") or ()),
                        user=str(config.get("User") or ""),
                        exposed_ports=tuple(sorted(config.get("ExposedPorts") or {})),
                        stop_signal=str(config.get("StopSignal") or ""))


def image_exists(ref: str) -> bool:
    """Whether the engine has ``ref`` locally (nothing can be pulled here)."""
    return inspect_image(ref) is not None


def split_ref(ref: str) -> tuple[str, str | None]:
    """An image reference as the engine's pull and push want it: repository, tag (or None
    for a digest reference; "latest" when the reference names none)."""
    if "@" in ref:
        return ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def pull_image(ref: str, client: Engine, auth: Mapping[str, str] | None = None) -> None:
    """Pull ``ref`` (with ``auth``: ``{"username", "password"}`` for its registry, else
    the engine's own credentials); :class:`EngineError` when the engine cannot."""
    repo, tag = split_ref(ref)
    call(f"pull {ref}", lambda: client.api.pull(repo, tag=tag,
                                                 auth_config=dict(auth) if auth else None))


def tag_image(source: str, ref: str) -> None:
    """Give the local image ``source`` (an id or a reference) the name ``ref`` too."""
    repo, tag = split_ref(ref)
    client = shared()
    call(f"tag {ref}", lambda: client.api.tag(source, repo, tag=tag))


def untag_content_tags(ref: str, keep: int) -> None:
    """Remove all but the ``keep`` most recently tagged content tags (16 hex digits,
    contexthash.py) of ``ref``'s name, never ``ref`` itself. An image a container uses
    keeps its tag (the engine refuses). An image that loses its last name goes with the
    build steps only it used (``docker rmi``'s default): kept, they were dangling images
    for good, one per step after the changed one (a ``RUN`` before the ``CMD``) and per
    rebuild of a session; steps the kept images share stay, and with them the cache."""
    repo, _ = split_ref(ref)
    client = shared()
    listed = call(f"list images {repo}", lambda: client.api.images(name=repo))
    tagged: list[tuple[float, str]] = []
    for image in listed:
        tags = [tag for tag in image.get("RepoTags") or ()
                if tag.startswith(repo + ":") and _CONTENT_TAG.match(tag[len(repo) + 1:])]
        if tags:   # one inspect an image, however many of its tags are content tags
            when = _tagged_at(client, image)
            tagged += [(when, tag) for tag in tags]
    tagged.sort(reverse=True)
    for _, tag in tagged[keep:]:
        if tag != ref:
            with contextlib.suppress(EngineError):  # in use, or gone meanwhile
                _untag(client, tag)


def _tagged_at(client: Engine, image: dict[str, Any]) -> float:
    """When the image was last tagged (Docker's ``Metadata.LastTagTime``), else built: a
    build answered from the layer cache is an image built long ago, tagged just now, and
    must count as new (or another session's untagging took the tag its pods were about to
    run)."""
    with contextlib.suppress(EngineError):
        data = call("image", lambda: client.api.inspect_image(image["Id"]))
        when = engine_time((data.get("Metadata") or {}).get("LastTagTime"))
        if when is not None:
            return when
    return float(image.get("Created") or 0)


def _untag(client: Engine, tag: str) -> None:
    call(f"untag {tag}", lambda: client.api.remove_image(tag))


def ignore_matcher(patterns: Iterable[str] = (), *, context: str | None = None
                   ) -> Callable[[str], bool]:
    """Whether a path ("/"-separated, relative to the patterns' root) is excluded by
    .dockerignore-syntax ``patterns``, matched by the SDK's own ``PatternMatcher``: the last
    matching line wins, ``!`` makes an exception, a folder's match covers what is inside it.

    With ``context``, the lines of ``context/.dockerignore`` come first, read as the SDK's
    ``build`` reads them (blank lines and ``#`` comments dropped), so ``patterns`` can add
    exceptions such as ``!Dockerfile``. Only ``.dockerignore`` counts, not BuildKit's
    ``<Dockerfile>.dockerignore``: the engine's classic builder used here does not read it.
    """
    lines: list[str] = []
    if context is not None:
        lines = dockerignore_lines(context)
    matcher = docker.utils.build.PatternMatcher([*lines, *patterns])
    if context is None:
        # PatternMatcher always adds "!.dockerignore" (that file is sent to the builder);
        # plain watch patterns (Compose ignore/include) must be able to match it too.
        last = matcher.patterns[-1] if matcher.patterns else None
        if last is not None and last.exclusion and last.cleaned_pattern == ".dockerignore":
            matcher.patterns.pop()
    return lambda path: bool(matcher.matches(path))


def dockerignore_lines(context: str) -> list[str]:
    path = os.path.join(context, ".dockerignore")
    try:
        with open(path, encoding="utf-8") as handle:
            stripped = [line.strip() for line in handle.read().splitlines()]
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}",
                        hint="fix the file's permissions or encoding (UTF-8)") from None
    return [line for line in stripped if line and not line.startswith("#")]


def _build_kwargs(spec: BuildSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tag": spec.image,
        "buildargs": dict(spec.args),
        "target": spec.target,
        "labels": dict(spec.labels) or None,
        "cache_from": list(spec.cache_from) or None,
        "network_mode": spec.network,
        "platform": spec.platform,
        "rm": True,
        "forcerm": True,
        "pull": False,
        "decode": True,
    }
    if spec.dockerfile_inline is not None:
        # The SDK has no inline Dockerfile: send the context as a tar with it added, as the
        # SDK itself does for a Dockerfile outside the context.
        kwargs["fileobj"] = _context_with_inline(spec.context, spec.dockerfile_inline)
        kwargs["custom_context"] = True
        kwargs["dockerfile"] = INLINE_DOCKERFILE
    else:
        kwargs["path"] = spec.context
        kwargs["dockerfile"] = spec.dockerfile
    return kwargs


def _context_with_inline(context: str, text: str) -> io.BytesIO:
    exclude: list[str] | None = None
    ignore = os.path.join(context, ".dockerignore")
    if os.path.exists(ignore):
        with open(ignore, encoding="utf-8") as handle:
            exclude = [ln.strip() for ln in handle if ln.strip() and not ln.startswith("#")]
    tar = docker.utils.tar(context, exclude=exclude, dockerfile=(INLINE_DOCKERFILE, text))
    return io.BytesIO(tar.read())


def _consume(
    chunk: dict[str, Any],
    spec: BuildSpec,
    tail: collections.deque[str],
    on_line: Callable[[str], None] | None,
) -> str | None:
    """One JSON message of the build stream; returns the image id when it announces it."""
    if "error" in chunk:
        detail = chunk.get("errorDetail") or {}
        raise _failed(spec, str(detail.get("message") or chunk["error"]).strip(), tail)
    for line in str(chunk.get("stream", "")).splitlines():
        if line.strip():
            tail.append(line.rstrip())
            if on_line is not None:
                on_line(line.rstrip())
    aux = chunk.get("aux")
    if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
        return str(aux["ID"])
    return None


def _image_id(spec: BuildSpec) -> str:
    try:
        found = inspect_image(spec.image)
    except EngineError as error:
        raise _failed(spec, error.reason, collections.deque()) from None
    if found is None:
        raise _failed(spec, f"no such image: {spec.image}", collections.deque())
    return found.id


def _failed(spec: BuildSpec, reason: str, tail: collections.deque[str]) -> UserError:
    log = "\n".join(f"    {line}" for line in tail)
    return UserError(
        f"service {spec.service!r}: building image {spec.image} failed: {reason}",
        hint=(f"last lines of the build log:\n{log}" if log else
              f"check the build context {spec.context} and its Dockerfile"),
    )


