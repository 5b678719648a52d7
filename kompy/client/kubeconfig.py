"""Kubeconfig files, read as client-go reads them; and the built-in cluster's, written.

Format: https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
Which files (client-go's ``clientcmd`` loading rules): ``--kubeconfig FILE`` alone (it must
exist), else every file of ``KUBECONFIG`` (``:``-separated, missing ones skipped, duplicates
once), else ``~/.kube/config``. Merging: the first file to set a cluster, user or context
name wins that whole entry (a later file's entry of the same name is ignored, even its
other fields), and ``current-context`` comes from the first file that sets one. Relative
paths in a file (certificates, keys, ``tokenFile``, an exec ``command`` containing a ``/``)
are relative to that file's folder.

What a context may use (see docs/cluster.md "Real clusters"): ``server``,
``certificate-authority`` / ``-data``, ``insecure-skip-tls-verify``, ``tls-server-name``,
``proxy-url``, ``disable-compression``; users with ``client-certificate``/``client-key``
(file or ``-data``), ``token``, ``tokenFile``, ``username``/``password``, or an ``exec``
credential plugin (kompy/client/execcred.py). ``auth-provider`` (removed from client-go in
1.26 for GCP and Azure) is refused with the plugin to use instead.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.client.execcred import EXEC_API_VERSIONS, ExecConfig
from kompy.client.pem import temp_pem
from kompy.errors import ClusterError
from kompy.fsutil import write_atomic
from kompy.yaml import plain as plain_yaml

# Extension of a cluster entry handed to exec plugins as ``spec.cluster.config``.
EXEC_EXTENSION = "client.authentication.k8s.io/exec"


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
    token_file: str | None = None        # re-read once a minute, as client-go does
    exec: ExecConfig | None = None       # a credential plugin (used only without the above)
    tls_server_name: str | None = None   # SNI and the name the certificate must carry
    proxy_url: str | None = None
    disable_compression: bool = False
    user: str = ""                       # the kubeconfig's names, for messages
    cluster: str = ""


@dataclass(frozen=True)
class Overrides:
    """What the command line sets over the kubeconfig (kubectl's flags of the same names)."""

    context: str | None = None
    namespace: str | None = None
    user: str | None = None
    cluster: str | None = None


def default_paths() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    if env:
        seen: list[Path] = []
        for part in env.split(os.pathsep):
            path = Path(part).expanduser()
            if part and path not in seen:
                seen.append(path)
        return seen
    return [Path("~/.kube/config").expanduser()]


def _load(path: Path, *, must_exist: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if must_exist:
            raise ClusterError(f"kubeconfig {path} does not exist") from None
        return {}
    except OSError as e:
        raise ClusterError(f"cannot read kubeconfig {path}: {e.strerror}") from e
    try:
        data = plain_yaml.load(text)
    except plain_yaml.PlainYamlError as e:
        raise ClusterError(f"{path}: not a valid kubeconfig: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ClusterError(f"{path}: not a valid kubeconfig: a mapping is expected")
    return data


def merged(paths: list[Path], *, explicit: bool = False) -> dict[str, Any]:
    """Merge kubeconfig files with client-go's rules (module docstring)."""
    out: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    seen: dict[str, set[str]] = {"clusters": set(), "users": set(), "contexts": set()}
    for path in paths:
        data = _load(path, must_exist=explicit)
        if "current-context" not in out and data.get("current-context"):
            out["current-context"] = str(data["current-context"])
        for section in ("clusters", "users", "contexts"):
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise ClusterError(f"{path}: {section} must be a list")
            for entry in entries:
                if not isinstance(entry, dict) or not entry.get("name"):
                    raise ClusterError(f"{path}: every entry of {section} needs a name")
                name = str(entry["name"])
                if name not in seen[section]:
                    seen[section].add(name)
                    out[section].append(_with_base(entry, path.parent))
    return out


def _with_base(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative file paths in a kubeconfig are relative to the file's own folder."""
    entry = dict(entry)
    for section in ("cluster", "user"):
        if not isinstance(entry.get(section), dict):
            continue
        inner = dict(entry[section])
        for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
            if isinstance(inner.get(key), str) and inner[key] and not os.path.isabs(inner[key]):
                inner[key] = str(base / inner[key])
        plugin = inner.get("exec")
        # Only a command given as a path is resolved; a bare name is looked up on PATH.
        if isinstance(plugin, dict) and "/" in str(plugin.get("command") or "") \
                and not os.path.isabs(str(plugin["command"])):
            inner["exec"] = {**plugin, "command": str(base / str(plugin["command"]))}
        entry[section] = inner
    return entry


def _named(config: dict[str, Any], section: str, name: str, context: str = ""
           ) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            inner = entry.get(section[:-1])
            return inner if isinstance(inner, dict) else {}
    what = section[:-1]
    where = f" (used by context {context!r})" if context else ""
    raise ClusterError(f"kubeconfig has no {what} named {name!r}{where}",
                    hint=f"`kubectl config get-{section}` lists the {section} it has")


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as e:
        raise ClusterError(f"kubeconfig {what} is not valid base64") from e


def connection(path: str | None = None, context: str | None = None, *,
               overrides: Overrides | None = None) -> Connection:
    """The Connection for a context (default: ``current-context``) of the kubeconfig that
    ``path`` or ``KUBECONFIG`` names, with command-line ``overrides``."""
    over = overrides or Overrides(context=context)
    if context and not over.context:
        over = Overrides(context, over.namespace, over.user, over.cluster)
    paths = [Path(path).expanduser()] if path else default_paths()
    config = merged(paths, explicit=bool(path))
    name = over.context or config.get("current-context")
    where = ", ".join(str(p) for p in paths)
    if not name:
        raise ClusterError(f"no current context in kubeconfig ({where})",
                        hint="pass --context, or use the built-in cluster")
    ctx = _named(config, "contexts", str(name))
    cluster_name = over.cluster or str(ctx.get("cluster") or "")
    user_name = over.user or str(ctx.get("user") or "")
    if not cluster_name:
        raise ClusterError(f"context {name!r} names no cluster ({where})")
    cluster = _named(config, "clusters", cluster_name, str(name))
    user = _named(config, "users", user_name, str(name)) if user_name else {}
    server = str(cluster.get("server") or "")
    if not server:
        raise ClusterError(f"cluster {cluster_name!r} of context {name!r} has no server address")
    cluster_fields = _cluster_fields(cluster, cluster_name)
    auth = _user_fields(user, user_name, cluster, server)
    namespace = over.namespace or str(ctx.get("namespace") or "") or "default"
    return Connection(server=server.rstrip("/"), namespace=namespace, context=str(name),
                      user=user_name, cluster=cluster_name, **cluster_fields, **auth)


def _cluster_fields(cluster: Mapping[str, Any], name: str) -> dict[str, Any]:
    verify: bool | str = True
    ca_data, ca_file = cluster.get("certificate-authority-data"), \
        cluster.get("certificate-authority")
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if insecure and (ca_data or ca_file):
        # client-go's transport refuses this pair too.
        raise ClusterError(f"cluster {name!r}: insecure-skip-tls-verify together with a "
                        "certificate-authority is not allowed", hint="remove one of the two")
    if ca_data and ca_file:
        raise ClusterError(f"cluster {name!r}: both certificate-authority-data and "
                        "certificate-authority are given", hint="keep one of the two")
    if insecure:
        verify = False
    elif ca_data:
        verify = temp_pem(_b64(ca_data, f"cluster {name!r} certificate-authority-data"))
    elif ca_file:
        verify = str(ca_file)
        if not os.path.isfile(verify):
            raise ClusterError(f"cluster {name!r}: certificate-authority {verify} does not exist")
    return {
        "verify": verify,
        "tls_server_name": str(cluster.get("tls-server-name") or "") or None,
        "proxy_url": str(cluster.get("proxy-url") or "") or None,
        "disable_compression": bool(cluster.get("disable-compression")),
    }


def _user_fields(user: Mapping[str, Any], name: str, cluster: Mapping[str, Any],
                 server: str) -> dict[str, Any]:
    if "auth-provider" in user:
        provider = (user.get("auth-provider") or {}).get("name", "")
        raise ClusterError(f"user {name!r} uses the {provider!r} auth-provider, which kubectl "
                        "itself no longer runs",
                        hint="use the exec credential plugin that replaced it "
                             "(gke-gcloud-auth-plugin for GKE, kubelogin for AKS, "
                             "`aws eks get-token` for EKS)")
    if (user.get("token") or user.get("tokenFile")) and (user.get("username")
                                                          or user.get("password")):
        raise ClusterError(f"user {name!r}: more than one authentication method (token and "
                        "basic auth); only one is allowed")
    for data_key, file_key in (("client-certificate-data", "client-certificate"),
                               ("client-key-data", "client-key")):
        if user.get(data_key) and user.get(file_key):
            raise ClusterError(f"user {name!r}: both {data_key} and {file_key} are given",
                            hint="keep one of the two")
    token_file = str(user.get("tokenFile") or "") or None
    token = str(user.get("token") or "") or None
    if token_file and not token:
        token = read_token_file(token_file, name)
    cert = None
    if user.get("client-certificate-data") or user.get("client-certificate"):
        crt = temp_pem(_b64(user["client-certificate-data"], "client-certificate-data")) \
            if user.get("client-certificate-data") else str(user["client-certificate"])
        key = temp_pem(_b64(user["client-key-data"], "client-key-data")) \
            if user.get("client-key-data") else str(user.get("client-key") or "")
        if not key:
            raise ClusterError(f"user {name!r}: a client certificate needs its client-key")
        cert = (crt, key)
    basic = None
    if user.get("username") or user.get("password"):
        basic = (str(user.get("username") or ""), str(user.get("password") or ""))
    plugin = None
    if isinstance(user.get("exec"), dict):
        plugin = exec_config(user["exec"], name, cluster, server)
    return {"token": token, "token_file": token_file, "cert": cert, "basic_auth": basic,
            "exec": plugin}


def read_token_file(path: str, user: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ClusterError(f"user {user!r}: cannot read tokenFile {path}: "
                        f"{e.strerror or e}") from e


def exec_config(raw: Mapping[str, Any], user: str, cluster: Mapping[str, Any], server: str
                ) -> ExecConfig:
    """An ``exec`` stanza, validated as client-go validates it."""
    api_version = str(raw.get("apiVersion") or "")
    command = str(raw.get("command") or "")
    if not command:
        raise ClusterError(f"user {user!r}: exec plugin needs a command")
    if not api_version:
        raise ClusterError(f"user {user!r}: exec plugin {command!r} needs an apiVersion",
                        hint=f"one of {', '.join(EXEC_API_VERSIONS)}")
    if api_version not in EXEC_API_VERSIONS:
        raise ClusterError(f"user {user!r}: exec plugin apiVersion {api_version!r} is not "
                        "supported", hint=f"one of {', '.join(EXEC_API_VERSIONS)}")
    mode = str(raw.get("interactiveMode") or "")
    if not mode and api_version.endswith("/v1beta1"):
        mode = "IfAvailable"  # v1beta1's default; v1 requires the field (client-go defaults)
    if mode not in ("Never", "IfAvailable", "Always"):
        raise ClusterError(f"user {user!r}: exec plugin {command!r} needs interactiveMode "
                        "Never, IfAvailable or Always" + (f", not {mode!r}" if mode else ""))
    env: list[tuple[str, str]] = []
    for item in raw.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            raise ClusterError(f"user {user!r}: every env entry of exec plugin {command!r} "
                            "needs a name")
        env.append((str(item["name"]), str(item.get("value") or "")))
    info = ""
    if raw.get("provideClusterInfo"):
        info = json.dumps(_cluster_info(cluster, server), sort_keys=True)
    return ExecConfig(command=command, args=tuple(str(a) for a in raw.get("args") or ()),
                      env=tuple(env), api_version=api_version,
                      install_hint=str(raw.get("installHint") or ""),
                      interactive_mode=mode, cluster_info=info, user=user)


def _cluster_info(cluster: Mapping[str, Any], server: str) -> dict[str, Any]:
    """``spec.cluster`` of the ExecCredential (client.authentication.k8s.io ``Cluster``):
    the cluster's entry with the CA always as data."""
    info: dict[str, Any] = {"server": server}
    ca = cluster.get("certificate-authority-data")
    if not ca and cluster.get("certificate-authority"):
        with contextlib.suppress(OSError):
            ca = base64.b64encode(Path(str(cluster["certificate-authority"])).read_bytes()
                                  ).decode()
    for key, value in (("tls-server-name", cluster.get("tls-server-name")),
                       ("insecure-skip-tls-verify", cluster.get("insecure-skip-tls-verify")),
                       ("certificate-authority-data", ca),
                       ("proxy-url", cluster.get("proxy-url")),
                       ("disable-compression", cluster.get("disable-compression"))):
        if value:
            info[key] = value
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == EXEC_EXTENSION:
            info["config"] = ext.get("extension")
    return info


def render(server: str, token: str, name: str, ca_pem: bytes | None = None,
           namespace: str = "default") -> str:
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
                                                "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }
    return plain_yaml.dump(data)


def write(path: Path, server: str, token: str, name: str, ca_pem: bytes | None = None) -> None:
    """Write a kubeconfig readable by its owner only: it holds the cluster's bearer token."""
    write_atomic(path, render(server, token, name, ca_pem), mode=0o600)
