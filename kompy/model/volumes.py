"""Service volumes and tmpfs mounts: the short "SOURCE:TARGET:MODE" syntax and the long form.

Short syntax as compose-go's format.ParseVolume reads it (compose-spec "volumes", short
syntax): one part is an anonymous volume; a source starting with ".", "/" or "~" is a bind
mount (created on the host when missing, for compatibility with docker-compose v1), any
other source is a named volume. Options are comma separated: ro, rw, nocopy, z, Z, the bind
propagations, and the consistency hints (cached, delegated, consistent), which compose-go
ignores and so does kompy.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, fail, parse_items
from kompy.model.scalars import (
    check_keys,
    expect_bool,
    expect_mapping,
    expect_str,
    kind,
    opt_str,
    parse_mode,
    resolve_path,
    str_list,
)
from kompy.model.values import ByteSize, remember

# Parsed short syntaxes by (text, base folder), shared: the values are immutable.
_SHORT: dict[tuple[str, str], ServiceVolume] = {}
VOLUME_TYPES = frozenset({"bind", "volume", "tmpfs", "npipe", "cluster", "image"})
PROPAGATIONS = frozenset({"rprivate", "private", "rshared", "shared", "rslave", "slave"})
_LONG_KEYS = frozenset({"type", "source", "target", "read_only", "consistency", "bind", "volume",
                        "tmpfs", "image"})
_BIND_KEYS = frozenset({"propagation", "create_host_path", "selinux"})
_VOLUME_KEYS = frozenset({"nocopy", "subpath"})
_TMPFS_KEYS = frozenset({"size", "mode"})


@dataclass(frozen=True, slots=True)
class ServiceVolume:
    type: str  # "bind" | "volume" | "tmpfs" | "npipe" | "cluster" | "image"
    target: str
    source: str | None = None  # bind: absolute host path; volume: volume name (None: anonymous)
    read_only: bool = False
    consistency: str | None = None
    bind_propagation: str | None = None
    bind_create_host_path: bool = True
    bind_selinux: str | None = None
    volume_nocopy: bool = False
    volume_subpath: str | None = None
    tmpfs_size: ByteSize | None = None
    tmpfs_mode: int | None = None
    # Keys of the long form this model does not type, as written; a sub-block's ("bind",
    # "volume", "tmpfs", "image") untyped keys are kept under the block's name.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath, base_dir: str) -> ServiceVolume:
        if isinstance(raw, str):
            if raw.startswith("~"):  # depends on $HOME: not memoised
                return _parse_short(raw, at, path, base_dir)
            cached = _SHORT.get((raw, base_dir))
            return cached if cached is not None else remember(
                _SHORT, (raw, base_dir), _parse_short(raw, at, path, base_dir))
        if isinstance(raw, dict):
            return _parse_long(raw, at, path, base_dir)
        raise fail(at, path, f"expected a volume string or mapping, got {kind(raw)}",
                   hint='for example "./data:/data:ro" or "db-data:/var/lib/postgresql/data"')

    def to_compose(self) -> dict[str, Any]:
        # Built in key order (bind, consistency, image, read_only, source, target, tmpfs,
        # type, volume), so that only volumes with x-* keys need a sort.
        out: dict[str, Any] = {}
        block = self._block()
        if block is not None and self.type == "bind":
            out["bind"] = block
        if self.consistency is not None:
            out["consistency"] = self.consistency
        if block is not None and self.type not in ("bind", "tmpfs", "volume"):
            out[self.type] = block
        if self.read_only:
            out["read_only"] = True
        if self.source is not None:
            out["source"] = self.source
        out["target"] = self.target
        if block is not None and self.type == "tmpfs":
            out["tmpfs"] = block
        out["type"] = self.type
        if block is not None and self.type == "volume":
            out["volume"] = block
        rest = [k for k in self.extra if k not in ("bind", "volume", "tmpfs", "image")]
        if not rest:
            return out
        for key in rest:
            out[key] = self.extra[key]
        return dict(sorted(out.items()))

    def _block(self) -> dict[str, Any] | None:
        """The sub-block of this volume's type; None when it has nothing to say (a volume's
        block is always printed, as compose-go prints ``volume: {}``)."""
        body: dict[str, Any] = {}
        if self.type == "bind":
            if self.bind_create_host_path:
                body["create_host_path"] = True
            if self.bind_propagation is not None:
                body["propagation"] = self.bind_propagation
            if self.bind_selinux is not None:
                body["selinux"] = self.bind_selinux
        elif self.type == "volume":
            if self.volume_nocopy:
                body["nocopy"] = True
            if self.volume_subpath is not None:
                body["subpath"] = self.volume_subpath
        elif self.type == "tmpfs":
            if self.tmpfs_mode is not None:
                body["mode"] = self.tmpfs_mode
            if self.tmpfs_size is not None:
                body["size"] = self.tmpfs_size.to_compose()
        extra = self.extra.get(self.type)
        if isinstance(extra, dict) and extra:
            body = dict(sorted({**body, **extra}.items()))
        if body or self.type == "volume" or self.type in self.extra:
            return body
        return None


def parse_volumes(raw: object, at: Locator, path: KeyPath, base_dir: str
                  ) -> tuple[ServiceVolume, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail(at, path, f"expected a list of volumes, got {kind(raw)}")
    return parse_items(ServiceVolume.parse, raw, at, path, base_dir)


def parse_tmpfs(raw: object, at: Locator, path: KeyPath) -> tuple[str, ...]:
    """The service-level ``tmpfs`` key: absolute targets, each with its options ("/run" or
    "/run:size=64m"), as written."""
    items = str_list(raw, at, path)
    for i, item in enumerate(items):
        if not item.startswith("/"):
            raise fail(at, (*path, i) if isinstance(raw, list) else path,
                       f"tmpfs target {item!r} is not an absolute path")
    return items


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~", "\\\\")) or _is_windows_drive(source)


def _is_windows_drive(text: str) -> bool:
    return len(text) >= 2 and text[0].isalpha() and text[1] == ":"


def is_windows_abs(path: str) -> bool:
    """``C:\\data``, ``c:/data`` or a UNC path (``\\\\host\\share``): compose-go's
    ``paths.IsWindowsAbs``, which keeps such a bind source as written on any platform."""
    if path.startswith(("\\\\", "//")):
        return True
    return len(path) >= 3 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/"


def _bind_source(base_dir: str, source: str) -> str:
    """A bind mount's host path: a Windows absolute path is kept (a Windows client talking to
    a Linux engine), anything else is resolved as every other host path."""
    return source if is_windows_abs(source) else resolve_path(base_dir, source)


def split_volume_spec(spec: str) -> list[str]:
    """Split on ":" but keep a Windows drive ("C:\\data:/data") in one part, as compose-go's
    ``format.ParseVolume`` does (a single letter before the first ":" is a drive)."""
    parts: list[str] = []
    buffer = ""
    for char in spec:
        if char == ":" and not (len(buffer) == 1 and buffer.isalpha() and not parts):
            parts.append(buffer)
            buffer = ""
        else:
            buffer += char
    parts.append(buffer)
    return parts


def _parse_short(spec: str, at: Locator, path: KeyPath, base_dir: str) -> ServiceVolume:
    if not spec:
        raise fail(at, path, "empty volume")
    parts = split_volume_spec(spec)
    if len(parts) > 3:
        raise fail(at, path, f"too many colons in volume {spec!r}",
                   hint="the short syntax is SOURCE:TARGET[:MODE]")
    if any(not part for part in parts):
        raise fail(at, path, f"empty section between colons in volume {spec!r}")
    if len(parts) == 1:
        return ServiceVolume(type="volume", target=posixpath.normpath(parts[0]),
                             bind_create_host_path=False)
    source, target = parts[0], posixpath.normpath(parts[1])
    if not posixpath.isabs(target) and not _is_windows_drive(target):
        raise fail(at, path, f"volume target {parts[1]!r} is not an absolute path",
                   hint="the container path must start with /")
    read_only = nocopy = False
    propagation = selinux = None
    for option in parts[2].split(",") if len(parts) == 3 else ():
        if option == "ro":
            read_only = True
        elif option == "rw":
            read_only = False
        elif option == "nocopy":
            nocopy = True
        elif option in ("z", "Z"):
            selinux = option
        elif option in PROPAGATIONS:
            propagation = option
        elif option not in ("cached", "delegated", "consistent"):
            raise fail(at, path, f"unknown volume option {option!r} in {spec!r}",
                       hint="options are ro, rw, nocopy, z, Z, or a bind propagation")
    if _is_path(source):
        return ServiceVolume(
            type="bind", target=target, source=_bind_source(base_dir, source),
            read_only=read_only, bind_propagation=propagation, bind_create_host_path=True,
            bind_selinux=selinux,
        )
    return ServiceVolume(type="volume", target=target, source=source, read_only=read_only,
                         bind_create_host_path=False, volume_nocopy=nocopy)


def _parse_long(raw: dict[str, Any], at: Locator, path: KeyPath, base_dir: str) -> ServiceVolume:
    check_keys(raw, _LONG_KEYS, at, path)
    if "type" not in raw:
        raise fail(at, path, "a volume mapping needs a type", hint="bind, volume or tmpfs")
    vtype = expect_str(raw["type"], at, (*path, "type"))
    if vtype not in VOLUME_TYPES:
        raise fail(at, (*path, "type"), f"unknown volume type {vtype!r}",
                   hint="use " + ", ".join(sorted(VOLUME_TYPES)))
    target = opt_str(raw.get("target"), at, (*path, "target"))
    if not target:
        raise fail(at, path, "a volume mapping needs a target (the path in the container)")
    source = opt_str(raw.get("source"), at, (*path, "source")) or None
    if source is not None and vtype == "bind":
        source = _bind_source(base_dir, source)
    if vtype == "bind" and source is None:
        raise fail(at, path, "a bind mount needs a source (the path on the host)")
    extra: dict[str, Any] = {}
    kw: dict[str, Any] = {}
    bind = _block(raw, "bind", _BIND_KEYS, at, path, extra)
    if "propagation" in bind:
        kw["bind_propagation"] = expect_str(bind["propagation"], at, (*path, "bind", "propagation"))
    kw["bind_create_host_path"] = expect_bool(
        bind.get("create_host_path", False), at, (*path, "bind", "create_host_path"))
    if "selinux" in bind:
        kw["bind_selinux"] = expect_str(bind["selinux"], at, (*path, "bind", "selinux"))
    vol = _block(raw, "volume", _VOLUME_KEYS, at, path, extra)
    if "nocopy" in vol:
        kw["volume_nocopy"] = expect_bool(vol["nocopy"], at, (*path, "volume", "nocopy"))
    if "subpath" in vol:
        kw["volume_subpath"] = expect_str(vol["subpath"], at, (*path, "volume", "subpath"))
    tmpfs = _block(raw, "tmpfs", _TMPFS_KEYS, at, path, extra)
    if tmpfs.get("size") is not None:
        kw["tmpfs_size"] = ByteSize.parse(tmpfs["size"], at, (*path, "tmpfs", "size"))
    if tmpfs.get("mode") is not None:
        kw["tmpfs_mode"] = parse_mode(tmpfs["mode"], at, (*path, "tmpfs", "mode"))
    if "image" in raw:
        extra["image"] = raw["image"]
    for key, value in raw.items():
        if key.startswith("x-"):
            extra[key] = value
    return ServiceVolume(
        type=vtype, target=target, source=source,
        read_only=expect_bool(raw.get("read_only", False), at, (*path, "read_only")),
        consistency=opt_str(raw.get("consistency"), at, (*path, "consistency")),
        extra=extra, **kw,
    )


def _block(raw: dict[str, Any], name: str, known: frozenset[str], at: Locator, path: KeyPath,
           extra: dict[str, Any]) -> dict[str, Any]:
    """A sub-block (bind/volume/tmpfs); keys the model does not type go to ``extra[name]``."""
    value = raw.get(name)
    if value is None:
        return {}
    body = expect_mapping(value, at, (*path, name))
    untyped = {k: v for k, v in body.items() if k not in known}
    if untyped:
        extra[name] = untyped
    return body
