"""Kubeconfig files: reading the user's (for real clusters) and writing the built-in cluster's.

Format: https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
Supported authentication: bearer ``token`` / ``tokenFile``, client certificates (file or
``-data``), basic auth; server CA from file or ``certificate-authority-data``, or
``insecure-skip-tls-verify``. ``exec`` and ``auth-provider`` plugins are refused with a clear
message. ``KUBECONFIG`` may list several files (``:``-separated); the first file that sets a
key wins, as kubectl merges them.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.errors import ClusterError
from kompy.fsutil import write_atomic
from kompy.yaml import plain as plain_yaml


@dataclass(frozen=True)
class Connection:
    """Everything needed to talk to one API server."""

    server: str
    token: str | None = None
    namespace: str = "default"
    context: str = ""
    verify: bool | str = True            # False, True or a CA bundle path
    cert: tuple[str, str] | None = None  # (client certificate file, key file)
    basic_auth: tuple[str, str] | None = None


def default_paths() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ClusterError(f"cannot read kubeconfig {path}: {e.strerror}") from e
    try:
        data = plain_yaml.load(text)
    except plain_yaml.PlainYamlError as e:
        raise ClusterError(f"{path}: not a valid kubeconfig: {e}") from e
    return data if isinstance(data, dict) else {}


def merged(paths: list[Path]) -> dict[str, Any]:
    """Merge kubeconfig files: first file wins for current-context and for each named entry."""
    out: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    seen: dict[str, set[str]] = {"clusters": set(), "users": set(), "contexts": set()}
    for path in paths:
        data = _load(path)
        if "current-context" not in out and data.get("current-context"):
            out["current-context"] = data["current-context"]
        for section in ("clusters", "users", "contexts"):
            for entry in data.get(section) or []:
                name = str(entry.get("name"))
                if name not in seen[section]:
                    seen[section].add(name)
                    out[section].append(_with_base(entry, path.parent))
    return out


def _with_base(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative file paths in a kubeconfig are relative to the file's own folder."""
    entry = dict(entry)
    for section in ("cluster", "user"):
        inner = dict(entry.get(section) or {})
        for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
            if isinstance(inner.get(key), str) and not os.path.isabs(inner[key]):
                inner[key] = str(base / inner[key])
        if section in entry:
            entry[section] = inner
    return entry


def _named(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            inner = entry.get(section[:-1])
            return inner if isinstance(inner, dict) else {}
    raise ClusterError(f"kubeconfig has no {section[:-1]} named {name!r}")


_TEMP_FILES: list[str] = []


def _data_file(b64: str, what: str) -> str:
    """Write ``*-data`` (base64 PEM) to a private temporary file; requests wants paths."""
    try:
        raw = base64.b64decode(b64)
    except ValueError as e:
        raise ClusterError(f"kubeconfig {what} is not valid base64") from e
    fd, path = tempfile.mkstemp(prefix="kompy-kube-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    if not _TEMP_FILES:
        atexit.register(_cleanup)
    _TEMP_FILES.append(path)
    return path


def _cleanup() -> None:
    for path in _TEMP_FILES:
        with contextlib.suppress(OSError):
            os.unlink(path)


def connection(path: str | None = None, context: str | None = None) -> Connection:
    """The Connection for ``context`` (default: current-context) of a kubeconfig."""
    paths = [Path(path).expanduser()] if path else default_paths()
    config = merged(paths)
    name = context or config.get("current-context")
    if not name:
        where = ", ".join(str(p) for p in paths)
        raise ClusterError(f"no current context in kubeconfig ({where})",
                           hint="pass --context, or use the built-in cluster")
    ctx = _named(config, "contexts", str(name))
    cluster = _named(config, "clusters", str(ctx.get("cluster")))
    user = _named(config, "users", str(ctx.get("user"))) if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ClusterError(f"context {name!r} uses an exec/auth-provider credential plugin, "
                           "which kompy does not run",
                           hint="use a kubeconfig with a token or client certificate")
    verify: bool | str = True
    if cluster.get("insecure-skip-tls-verify"):
        verify = False
    elif cluster.get("certificate-authority-data"):
        verify = _data_file(str(cluster["certificate-authority-data"]),
                            "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        verify = str(cluster["certificate-authority"])
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(str(user["tokenFile"])).read_text(encoding="utf-8").strip()
    cert = None
    if user.get("client-certificate-data") or user.get("client-certificate"):
        crt = (_data_file(str(user["client-certificate-data"]), "client-certificate-data")
               if user.get("client-certificate-data") else str(user["client-certificate"]))
        key = (_data_file(str(user["client-key-data"]), "client-key-data")
               if user.get("client-key-data") else str(user.get("client-key", "")))
        cert = (crt, key)
    basic = None
    if user.get("username") and user.get("password"):
        basic = (str(user["username"]), str(user["password"]))
    server = str(cluster.get("server") or "")
    if not server:
        raise ClusterError(f"cluster of context {name!r} has no server address")
    return Connection(server=server.rstrip("/"), token=str(token) if token else None,
                      namespace=str(ctx.get("namespace") or "default"), context=str(name),
                      verify=verify, cert=cert, basic_auth=basic)


def render(server: str, token: str, name: str, ca_pem: bytes | None = None) -> str:
    """A kubeconfig (YAML text) with one cluster, user and context, all called ``name``."""
    cluster: dict[str, str] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name,
                                                "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }
    return plain_yaml.dump(data)


def write(path: Path, server: str, token: str, name: str, ca_pem: bytes | None = None) -> None:
    """Write a kubeconfig readable by its owner only: it holds the cluster's bearer token."""
    write_atomic(path, render(server, token, name, ca_pem), mode=0o600)
