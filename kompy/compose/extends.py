"""Resolves ``extends``: a service built on another one, in the same file or another file.

Compose Specification, services "extends": the base service is resolved first (recursively:
it may extend another), then the extending service is merged over it with the same rules as
override files. A base in another file is read with that file's own folder for relative paths.
A chain that comes back to a service already on it is an error naming the whole chain.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import Any

from kompy.compose.locator import ProjectLocator
from kompy.compose.merge import merge_services
from kompy.compose.paths import is_remote
from kompy.errors import ComposeError

# A file's services and the locator of that file, loaded on demand.
FileLoader = Callable[[str], tuple[dict[str, Any], ProjectLocator]]

_Key = tuple[str, str]  # (file, service)
# extends chains resolve by recursion; real projects use a few levels.
MAX_EXTENDS_DEPTH = 64


class ExtendsResolver:
    def __init__(self, load_file: FileLoader) -> None:
        self.load_file = load_file
        self.done: dict[_Key, dict[str, Any]] = {}
        self.files: dict[str, tuple[dict[str, Any], ProjectLocator]] = {}

    def resolve_all(self, services: dict[str, Any], file: str,
                    locator: ProjectLocator) -> dict[str, Any]:
        """Every service of a project with its ``extends`` applied; ``file`` names the project
        (its first Compose file) for cycle messages and same-file references."""
        self.files[file] = (services, locator)
        out: dict[str, Any] = {}
        for name, service in services.items():
            if isinstance(service, dict) and "extends" in service:
                out[name] = self.resolve(file, name, [])
            else:
                out[name] = service
        return out

    def resolve(self, file: str, name: str, chain: list[_Key]) -> dict[str, Any]:
        key = (file, name)
        if key in self.done:
            return self.done[key]
        services, locator = self.files[file]
        service = services[name]
        if not isinstance(service, dict) or "extends" not in service:
            return service if isinstance(service, dict) else {}
        if key in chain:
            shown = " -> ".join(_show(k, file) for k in [*chain[chain.index(key):], key])
            raise ComposeError(
                f"extends cycle: {shown}",
                location=locator.locate(("services", name, "extends")),
                key_path=("services", name, "extends"),
                hint="a service cannot extend itself, directly or through others",
            )
        if len(chain) > MAX_EXTENDS_DEPTH:
            raise ComposeError(
                f"extends chain longer than {MAX_EXTENDS_DEPTH} services",
                location=locator.locate(("services", name, "extends")),
                key_path=("services", name, "extends"),
                hint="shorten the chain of services extending each other",
            )
        base_file, base_name = self._target(file, name, service["extends"], locator)
        base_services, base_locator = self.files[base_file]
        if base_name not in base_services:
            guess = difflib.get_close_matches(base_name, list(base_services), n=1)
            raise ComposeError(
                f"extends: service {base_name!r} not found"
                + ("" if base_file == file else f" in {base_file}"),
                location=locator.locate(("services", name, "extends")),
                key_path=("services", name, "extends"),
                hint=f"did you mean {guess[0]!r}?" if guess else "check the service name",
            )
        base = self.resolve(base_file, base_name, [*chain, key])
        own = {k: v for k, v in service.items() if k != "extends"}
        merged = merge_services({k: v for k, v in base.items() if k != "extends"}, own)
        locator.redirect(("services", name), base_locator, ("services", base_name))
        self.done[key] = merged
        return merged

    def _target(self, file: str, name: str, extends: Any,
                locator: ProjectLocator) -> tuple[str, str]:
        path = ("services", name, "extends")
        if isinstance(extends, str):
            return file, extends
        if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
            raise ComposeError(
                "extends must be a service name or a mapping with 'service' (and 'file')",
                location=locator.locate(path), key_path=path,
                hint="for example  extends: {file: common.yaml, service: base}",
            )
        other = extends.get("file")
        if other is None or other == file:
            return file, extends["service"]
        if not isinstance(other, str):
            raise ComposeError("extends.file must be a string", location=locator.locate(path),
                               key_path=(*path, "file"))
        if other not in self.files:
            if is_remote(other):
                raise ComposeError(
                    f"extends: remote file {other!r} is not supported: kompy loads projects "
                    "offline", location=locator.locate((*path, "file")),
                    key_path=(*path, "file"),
                    hint="download the file and extend its local copy",
                )
            if not os.path.isfile(other):
                raise ComposeError(
                    f"extends: file {other} not found",
                    location=locator.locate((*path, "file")), key_path=(*path, "file"),
                    hint="the path is relative to the folder of the file that names it",
                )
            self.files[other] = self.load_file(other)
        return other, extends["service"]


def _show(key: _Key, main: str) -> str:
    file, name = key
    return name if file == main else f"{name} ({os.path.basename(file)})"
