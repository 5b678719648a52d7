"""Registry credentials of a pod's ``imagePullSecrets``, as the kubelet's keyring finds them.

https://kubernetes.io/docs/concepts/containers/images/#specifying-imagepullsecrets-on-a-pod
A secret of type ``kubernetes.io/dockerconfigjson`` (key ``.dockerconfigjson``: a Docker
``config.json`` with ``auths``) or ``kubernetes.io/dockercfg`` (key ``.dockercfg``: the older
map of registries) gives credentials per registry. An entry matches an image when its host
(with port; ``*`` matches one label of a domain) is the image's registry and its path is a
prefix of the image's path (``registry.example.com/team`` serves ``.../team/app``); Docker
Hub's spellings (``https://index.docker.io/v1/``, ``index.docker.io``, ``docker.io``) are one
registry. The kubelet tries the matches longest first; with none it pulls anonymously.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
from collections.abc import Callable
from typing import Any

from kompy.client.objects import Obj
from kompy.cluster.kubelet.volumes import secret_data
from kompy.engine.refs import DOCKER_HUB, parse, registry_of

log = logging.getLogger(__name__)

Lookup = Callable[[str, str], Obj | None]
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", DOCKER_HUB)


def credentials_for(pod: Obj, image: str, secrets: Lookup) -> list[dict[str, str]]:
    """``{"username", "password"}`` pairs to try for ``image``, best match first."""
    meta = pod.get("metadata") or {}
    ns = str(meta.get("namespace") or "default")
    matches: list[tuple[int, dict[str, str]]] = []
    for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
        name = str((ref or {}).get("name") or "")
        secret = secrets(ns, name) if name else None
        if secret is None:
            continue  # the kubelet ignores a missing pull secret (and the pull may fail)
        for key, auth in _auths(secret).items():
            score = _match(key, image)
            if score is not None:
                creds = _credentials(auth)
                if creds is not None:
                    matches.append((score, creds))
    matches.sort(key=lambda m: -m[0])
    unique: list[dict[str, str]] = []
    for _, creds in matches:
        if creds not in unique:
            unique.append(creds)
    return unique


def _auths(secret: Obj) -> dict[str, Any]:
    data = secret_data(secret)
    try:
        if ".dockerconfigjson" in data:
            parsed = json.loads(data[".dockerconfigjson"])
            auths = parsed.get("auths") if isinstance(parsed, dict) else None
        elif ".dockercfg" in data:
            auths = json.loads(data[".dockercfg"])
        else:
            return {}
    except ValueError:
        name = (secret.get("metadata") or {}).get("name")
        log.warning("pull secret %s holds no valid Docker config JSON", name)
        return {}
    return auths if isinstance(auths, dict) else {}


def _credentials(auth: Any) -> dict[str, str] | None:
    if not isinstance(auth, dict):
        return None
    user, password = auth.get("username"), auth.get("password")
    if not (user or password) and auth.get("auth"):
        try:
            user, _, password = base64.b64decode(str(auth["auth"])).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
    if not user and not password:
        return None
    return {"username": str(user or ""), "password": str(password or "")}


def _split_key(key: str) -> tuple[str, str]:
    """A ``auths`` key (``https://host:port/path``, ``host/path``, ``host``): host, path."""
    rest = key.split("://", 1)[-1].rstrip("/")
    host, _, path = rest.partition("/")
    if host in _HUB_ALIASES:
        host, path = DOCKER_HUB, "" if path in ("v1", "v2") else path
    return host.lower(), path


def _match(key: str, image: str) -> int | None:
    """How well the ``auths`` key serves ``image`` (longer is better); None: it does not."""
    host, path = _split_key(key)
    registry = registry_of(image).lower()
    name = parse(image).name
    image_path = name[len(registry) + 1:] if name.lower().startswith(registry + "/") else name
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if not _host_matches(host, registry):
        return None
    if path and not (image_path == path or image_path.startswith(path + "/")):
        return None
    return len(host) + len(path)


def _host_matches(pattern: str, host: str) -> bool:
    if "*" not in pattern:
        return pattern == host
    # A glob matches label by label: *.example.com serves a.example.com, not a.b.example.com.
    pattern_labels, host_labels = pattern.split("."), host.split(".")
    return len(pattern_labels) == len(host_labels) and all(
        fnmatch.fnmatchcase(h, p) for p, h in zip(pattern_labels, host_labels, strict=True))
