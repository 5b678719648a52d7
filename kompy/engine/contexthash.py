"""The content hash of a build: what the builder would see, hashed before building.

Skaffold's ``inputDigest`` tagger (https://skaffold.dev/docs/taggers/#inputdigest) tags an
image with a hash of its inputs, so an unchanged service keeps its tag: it is not rebuilt,
not pushed and its pods are not rolled. kompy hashes:

- every file and folder of the build context that the builder receives: the context after
  ``.dockerignore`` (read with the docker SDK's own ``exclude_paths``, as ``build`` sends
  it), each with its path, permission bits and content (a symlink: its target);
- the Dockerfile (from the context, another path, or ``dockerfile_inline``) and its path;
- the build args, target and labels;
- the id of each local base image its ``FROM`` lines name (``ARG`` defaults and build args
  substituted; earlier stages and ``scratch`` skipped), so a rebuilt or re-pulled base image
  builds again although no file changed.

File digests are remembered per (path, size, mtime, inode) for the process, so the dev loop
re-reads only what changed. A remote context (a git URL) cannot be hashed: None.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Mapping

import docker.utils.build

from kompy.engine.images import BuildSpec, dockerignore_lines
from kompy.errors import UserError

VERSION = b"kompy-build-digest/1\0"
TAG_LENGTH = 16  # hex digits of the digest in a tag: 64 bits
_FILE_DIGESTS: dict[tuple[str, int, int, int], bytes] = {}
_VAR = re.compile(r"\$(?:\{(\w+)(?::?-([^}]*))?\}|(\w+))")


def is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def build_digest(spec: BuildSpec, base_image_id: Callable[[str], str | None]) -> str | None:
    """The hex SHA-256 of ``spec``'s inputs; ``base_image_id`` gives a local image's id (or
    None when the engine has no such image)."""
    if is_remote(spec.context):
        return None
    h = hashlib.sha256(VERSION)
    dockerfile_name, text = _dockerfile(spec)
    _feed(h, "dockerfile", dockerfile_name, text)
    _feed(h, "args", *(f"{k}={v}" for k, v in sorted(spec.args.items())))
    _feed(h, "target", spec.target or "")
    _feed(h, "labels", *(f"{k}={v}" for k, v in sorted(spec.labels.items())))
    for ref in base_images(text, spec.args):
        _feed(h, "from", ref, base_image_id(ref) or "")
    _feed_context(h, spec.context, dockerfile_name)
    return h.hexdigest()


def content_tag(digest: str) -> str:
    return digest[:TAG_LENGTH]


def _feed(h: hashlib._Hash, *parts: str) -> None:
    for part in parts:
        data = part.encode("utf-8", "surrogateescape")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)


def _dockerfile(spec: BuildSpec) -> tuple[str, str]:
    """(the Dockerfile's path as the SDK sends it, its text)."""
    if spec.dockerfile_inline is not None:
        return "<inline>", spec.dockerfile_inline
    name = spec.dockerfile or "Dockerfile"
    path = name if os.path.isabs(name) else os.path.join(spec.context, name)
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return name, handle.read()
    except OSError as error:
        raise UserError(f"service {spec.service!r}: cannot read its Dockerfile {path}: "
                        f"{error.strerror}") from None


def base_images(dockerfile: str, build_args: Mapping[str, str]) -> list[str]:
    """The images the ``FROM`` lines of ``dockerfile`` name, in order, without stages."""
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    for line in _logical_lines(dockerfile):
        words = line.split()
        if not words:
            continue
        keyword = words[0].upper()
        if keyword == "ARG" and not seen_from and len(words) > 1:
            name, _, value = words[1].partition("=")
            defaults[name] = build_args.get(name, value.strip("\"'"))
        elif keyword == "FROM":
            seen_from = True
            rest = [w for w in words[1:] if not w.startswith("--")]
            if not rest:
                continue
            image = _substitute(rest[0], defaults)
            if len(rest) >= 3 and rest[1].upper() == "AS":
                stages.add(rest[2].lower())
            if image.lower() in stages or image == "scratch" or image in images:
                continue
            images.append(image)
    return images


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _substitute(word: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        value = values.get(name, "")
        if not value and match.group(2) is not None:
            return match.group(2)
        return value
    return _VAR.sub(one, word)


def _feed_context(h: hashlib._Hash, context: str, dockerfile_name: str) -> None:
    root = os.path.abspath(context)
    if not os.path.isdir(root):
        raise UserError(f"build context {context} is not a folder")
    relative = dockerfile_name if not os.path.isabs(dockerfile_name) else \
        os.path.relpath(dockerfile_name, root)
    try:
        paths = docker.utils.build.exclude_paths(root, dockerignore_lines(root),
                                                 dockerfile=relative)
    except OSError as error:
        raise UserError(f"cannot read the build context {context}: {error}") from None
    for rel in sorted(paths):
        path = os.path.join(root, rel)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue  # removed while hashing: the next change hashes again
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            _feed(h, "link", rel, os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            _feed(h, "dir", rel, oct(mode))
        elif stat.S_ISREG(info.st_mode):
            _feed(h, "file", rel, oct(mode))
            h.update(_file_digest(path, info))


def _file_digest(path: str, info: os.stat_result) -> bytes:
    key = (path, info.st_size, info.st_mtime_ns, info.st_ino)
    found = _FILE_DIGESTS.get(key)
    if found is None:
        if len(_FILE_DIGESTS) > 200_000:  # a long session's stale entries
            _FILE_DIGESTS.clear()
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as error:
            raise UserError(f"cannot read {path} of the build context: "
                            f"{error.strerror}") from None
        found = _FILE_DIGESTS[key] = digest.digest()
    return found
