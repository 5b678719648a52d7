"""The state folder of a built-in cluster: ``$KOMPY_HOME/<cluster>``.

Default ``~/.local/state/kompy/<cluster>`` (XDG_STATE_HOME is honoured), cluster "default".
It holds store.db (the SQLite store), kubeconfig, daemon.pid, daemon.log, api.json (port and
bearer token) and, when given, tokens.csv (the API server's static token file) and
kubelet.yaml (the node's settings). The folder is private to its owner (0700): the token in
api.json and the kubeconfig is all it takes to control the cluster.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.errors import UserError
from kompy.fsutil import write_atomic

DEFAULT_CLUSTER = "default"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


def kompy_home() -> Path:
    env = os.environ.get("KOMPY_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path("~/.local/state").expanduser()
    return base / "kompy"


@dataclass(frozen=True)
class ClusterState:
    name: str
    dir: Path

    @property
    def store(self) -> Path:
        return self.dir / "store.db"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def pid_file(self) -> Path:
        return self.dir / "daemon.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "daemon.log"

    @property
    def api_file(self) -> Path:
        return self.dir / "api.json"

    @property
    def kubelet_config(self) -> Path:
        """The node's settings (kompy.cluster.kubelet.config), read at each start."""
        return self.dir / "kubelet.yaml"

    @property
    def lock_file(self) -> Path:
        return self.dir / "daemon.lock"

    @property
    def token_file(self) -> Path:
        """kube-apiserver's ``--token-auth-file``: more users' bearer tokens (apiserver/authn)."""
        return self.dir / "tokens.csv"

    def install_token_file(self, source: Path) -> int:
        """Check ``source`` and copy it in as the token file (0600); the number of tokens.
        A running API server reads it again by itself."""
        from kompy.cluster.apiserver.authn import parse_token_file

        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"cannot read token file {source}: {error}") from None
        count = len(parse_token_file(text, str(source)))
        self.ensure_dir()
        write_atomic(self.token_file, text, mode=0o600)
        return count

    @property
    def context(self) -> str:
        return f"kompy-{self.name}"

    def ensure_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
        except OSError as error:
            raise self.unusable(error) from None

    def unusable(self, error: OSError) -> UserError:
        """The user's error of a state folder that cannot be made, read or written (a
        KOMPY_HOME that is a file, under a read-only or missing mount, or not theirs)."""
        where = error.filename or self.dir
        home = os.environ.get("KOMPY_HOME")
        chosen = f"KOMPY_HOME={home}" if home else f"the default {kompy_home()}"
        return UserError(
            f"cannot use the state folder of cluster {self.name!r}, {self.dir}: "
            f"{error.strerror or error} ({where})",
            hint=f"the folder comes from {chosen}: point KOMPY_HOME at a folder you can "
                 "write")

    def read_api(self) -> dict[str, Any] | None:
        """api.json: ``{"port", "token", "pid", "url"}``, or None before the first start."""
        try:
            data = json.loads(self.api_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        except OSError as error:
            raise self.unusable(error) from None
        return data if isinstance(data, dict) else None

    def write_api(self, data: dict[str, Any]) -> None:
        write_atomic(self.api_file, json.dumps(data, indent=2) + "\n", mode=0o600)

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None
        except OSError as error:
            raise self.unusable(error) from None


def cluster_state(cluster: str | None = None) -> ClusterState:
    name = cluster or os.environ.get("KOMPY_CLUSTER") or DEFAULT_CLUSTER
    if not _NAME.match(name):
        raise UserError(f"invalid cluster name {name!r}",
                        hint="use lower-case letters, digits and '-', at most 40 characters")
    return ClusterState(name, kompy_home() / name)
