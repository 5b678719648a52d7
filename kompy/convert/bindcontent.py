"""The content of a bind mount's source, read for a ConfigMap: what is there, and how it is laid
out in one flat ConfigMap.

A ConfigMap is flat: its keys match ``[-._a-zA-Z0-9]+`` (no "/", not starting with "..").
A folder's files, subfolders included, go in one ConfigMap whose volume lists ``items``
(https://kubernetes.io/docs/concepts/configuration/configmap/#using-configmaps-as-files-from-a-pod):
each item maps a key to the file's relative ``path``, which may hold "/" (the kubelet creates
the subfolders), and carries ``mode: 0755`` for an executable file. Without subfolders,
executables or names that are not valid keys, the plain form (every key a file) is kept.

Modes follow what git records (executable or not), not the checkout's umask, so the output
is the same on every machine. Text goes to ``data`` unchanged (no line-ending rewriting);
anything that is not UTF-8 goes to ``binaryData``. The API server refuses a ConfigMap whose
values add up to more than 1 MiB; client-side ``kubectl
apply`` also keeps a copy of the object in an annotation limited to 256 KiB in all.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

# The API server's limit on a ConfigMap's keys + values (k8s.io/api core/v1 validation).
CONFIGMAP_LIMIT = 1024 * 1024
# kubectl apply's last-applied-configuration annotation: all annotations <= 256 KiB.
APPLY_ANNOTATION_LIMIT = 256 * 1024
EXECUTABLE_MODE = 0o755
# An item whose only purpose is to make a folder exist inside the volume, so that another
# mount of the container (say an anonymous volume at /app/node_modules) has a mount point.
MOUNTPOINT_KEY = "kompy-mountpoint"

_KEY_CHARS = re.compile(r"[^-._a-zA-Z0-9]")


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the mount source, "/"-separated ("" for a single-file mount)
    content: bytes
    executable: bool = False


@dataclass
class BindContent:
    """What a bind mount's source holds, as far as the container would see it."""

    single_file: bool
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    mountpoints: list[str] = field(default_factory=list)  # folders other mounts need

    def size(self) -> int:
        return sum(len(f.content) for f in self.files)


def source_state(source: Path) -> str:
    """"missing", "empty" (a folder with nothing in it), "file", "folder" or "special"
    (a socket, a device, a pipe: only meaningful on the host itself)."""
    try:
        info = source.stat()
    except OSError:
        return "missing"
    if stat.S_ISREG(info.st_mode):
        return "file"
    if stat.S_ISDIR(info.st_mode):
        try:
            return "folder" if any(source.iterdir()) else "empty"
        except OSError:
            return "special"
    return "special"


def read_bind_content(source: Path, inside: Path | None, shadowed: list[str]) -> BindContent:
    """Read ``source`` (a file, or a folder with its subfolders). ``inside``: every file must
    resolve within this folder (the project), else it is skipped; None allows any file.
    ``shadowed``: relative folders that other mounts of the container cover (their host
    files are not visible in the container, so they are left out)."""
    if source.is_file():
        data = source.read_bytes()
        return BindContent(True, [SourceFile("", data, _executable(source))])
    content = BindContent(False, mountpoints=sorted(shadowed))
    for folder, dirs, names in os.walk(source, followlinks=False):
        rel_folder = Path(folder).relative_to(source).as_posix()
        rel_folder = "" if rel_folder == "." else rel_folder
        dirs.sort()
        for name in sorted([*names, *[d for d in dirs if (Path(folder) / d).is_symlink()]]):
            rel = f"{rel_folder}/{name}" if rel_folder else name
            path = Path(folder) / name
            if _covered(rel, shadowed):
                continue
            why = _unreadable(path, inside)
            if why:
                content.skipped.append((rel, why))
                continue
            content.files.append(SourceFile(rel, path.read_bytes(), _executable(path)))
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()
                   and not _covered(f"{rel_folder}/{d}" if rel_folder else d, shadowed)]
    content.files.sort(key=lambda f: f.path)  # the same order on every file system
    content.skipped.sort()
    return content


def _covered(rel: str, shadowed: list[str]) -> bool:
    return any(rel == s or rel.startswith(s + "/") for s in shadowed)


def _unreadable(path: Path, inside: Path | None) -> str | None:
    real = Path(os.path.realpath(path))
    if inside is not None and not real.is_relative_to(inside):
        return "a symbolic link out of the project folder (pass --allow-outside-project)"
    if real.is_dir():
        return "a symbolic link to a folder (not followed)"
    if not real.exists():
        return "a broken symbolic link"
    if not real.is_file():
        return "not a regular file (a socket, pipe or device)"
    return None


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


@dataclass
class ConfigMapLayout:
    """How a BindContent sits in one ConfigMap and in its volume."""

    data: dict[str, str] = field(default_factory=dict)
    binary_data: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, object]] | None = None  # None: every key is a file of its name
    sizes: dict[str, int] = field(default_factory=dict)  # path -> bytes, for errors

    def api_size(self) -> int:
        """The size the API server counts (ValidateConfigMap): the values' bytes."""
        text = sum(len(v.encode()) for v in self.data.values())
        return text + sum(len(base64.b64decode(v)) for v in self.binary_data.values())

    def apply_size(self) -> int:
        """About what the object weighs as JSON (text as is, binary as base64)."""
        return (sum(len(k) + len(v) for k, v in self.data.items())
                + sum(len(k) + len(v) for k, v in self.binary_data.items()))


def layout(content: BindContent, file_name: str) -> ConfigMapLayout:
    """Keys, values and items for ``content``; ``file_name``: the key of a single file."""
    out = ConfigMapLayout()
    items: list[dict[str, object]] = []
    plain = True
    taken: set[str] = set()
    for source in content.files:
        path = source.path or file_name
        key = _key(path, taken)
        taken.add(key)
        try:
            out.data[key] = source.content.decode("utf-8")
        except UnicodeDecodeError:
            out.binary_data[key] = base64.b64encode(source.content).decode("ascii")
        out.sizes[path] = len(source.content)
        # A single file is mounted with subPath: its path in the volume is its key.
        item: dict[str, object] = {"key": key, "path": key if content.single_file else path}
        if source.executable:
            item["mode"] = EXECUTABLE_MODE
        plain = plain and key == path and not source.executable
        items.append(item)
    for folder in content.mountpoints:
        key = _key(f"{MOUNTPOINT_KEY}-{folder}", taken)
        taken.add(key)
        out.data[key] = ""
        items.append({"key": key, "path": f"{folder}/.{MOUNTPOINT_KEY}"})
        plain = False
    # A single file needs items only to carry its mode (it is mounted by subPath).
    needs_mode = any(f.executable for f in content.files)
    if (content.single_file and needs_mode) or (not content.single_file and not plain):
        out.items = items
    return out


def _key(path: str, taken: set[str]) -> str:
    """A valid ConfigMap key for ``path``: "/" and other characters become "_"; a clash or an
    over-long name gets a short hash of the path."""
    key = _KEY_CHARS.sub("_", path.replace("/", "_"))
    if key.startswith(".."):
        key = "_" + key[1:]
    if key in taken or len(key) > 253:
        digest = hashlib.sha256(path.encode()).hexdigest()[:8]
        key = f"{key[:240]}-{digest}"
    return key


def biggest(sizes: dict[str, int], count: int = 5) -> str:
    """"a.bin (700 KiB), b.txt (300 KiB)": the largest files first."""
    top = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:count]
    return ", ".join(f"{path} ({_human(size)})" for path, size in top)


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size} B"
