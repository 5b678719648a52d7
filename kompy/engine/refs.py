"""Image references: their parts, their registry, and Skaffold's ``--default-repo`` rewriting.

A reference is ``[registry/]path[:tag][@digest]``; the first component is a registry when it
holds a ``.`` or a ``:`` or is ``localhost`` (the distribution reference grammar,
https://github.com/distribution/reference), otherwise the image is on Docker Hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
MAX_NAME = 255  # Skaffold truncates rewritten names here (the registry limit on a name)
_ESCAPE = re.compile(r"[/._:@]")
# A registry domain (host[:port]) and a Google Cloud project id: GCR and Artifact Registry
# names, which support nested repositories (Skaffold's prefixRegex).
_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])" \
          r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?"
_GCP_PREFIX = re.compile(rf"^{_DOMAIN}/[a-z][a-z0-9-]{{4,28}}[a-z0-9]/?")


@dataclass(frozen=True)
class Reference:
    name: str          # everything before the tag and digest, as written
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + \
            (f"@{self.digest}" if self.digest else "")


def parse(ref: str) -> Reference:
    name, _, digest = ref.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return Reference(name, tag, digest or None)


def registry_of(ref: str) -> str:
    """The registry host (``127.0.0.1:5000``, ``gcr.io``), ``docker.io`` for Docker Hub."""
    name = parse(ref).name
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def with_tag(ref: str, tag: str) -> str:
    """``ref`` with its tag (and digest) replaced by ``tag``."""
    return f"{parse(ref).name}:{tag}"


def rewrite_default_repo(image: str, default_repo: str | None) -> str:
    """Skaffold's ``--default-repo`` rewriting of an image name (its default strategy,
    https://skaffold.dev/docs/environment/image-registries/): a name already under the
    default repo stays; on registries with nested repositories (``gcr.io``,
    ``*-docker.pkg.dev``) the default repo replaces a matching project prefix, or is put in
    front; elsewhere the name is escaped (``/ . _ : @`` become ``_``) and put under the
    default repo, so ``repo1/app`` and ``repo2/app`` never collide. Tag and digest stay."""
    if not default_repo:
        return image
    default_repo = default_repo.rstrip("/")
    ref = parse(image)
    base = ref.name
    if base.startswith(default_repo):
        replaced = base
    else:
        original_prefix = _prefix(base)
        repo_prefix = _prefix(default_repo)
        if "gcr.io" in repo_prefix or "-docker.pkg.dev" in repo_prefix:
            if original_prefix == repo_prefix:
                replaced = f"{default_repo}/{base[len(original_prefix):]}"
            else:
                replaced = f"{default_repo}/{base}"[:MAX_NAME]
        else:
            replaced = f"{default_repo}/{_ESCAPE.sub('_', base)}"[:MAX_NAME]
    return str(Reference(replaced, ref.tag, ref.digest))


def _prefix(name: str) -> str:
    match = _GCP_PREFIX.match(name)
    return match.group(0) if match else ""
