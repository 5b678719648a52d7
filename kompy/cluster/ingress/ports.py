"""Where the Ingress listens: 127.0.0.1 only, on the ports the cluster was given.

``kompy cluster start --ingress-ports HTTP,HTTPS`` (or ``KOMPY_INGRESS_PORTS``) sets them;
the setting is kept in the state folder (``ingress.json``) for later starts:

- ``auto`` (the default): 80 and 443 when they are free, else the ports the cluster had
  last time, else any free ports;
- ``HTTP,HTTPS`` numbers: exactly those (a port that is taken is reported, not replaced);
  ``0`` for either means any free port (the one it had last time when free again);
- ``off``: no Ingress listener.

The ports it got are written back to ``ingress.json``; ``kompy cluster status`` shows them.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.errors import UserError
from kompy.fsutil import write_atomic

ENV = "KOMPY_INGRESS_PORTS"
AUTO = "auto"
OFF = "off"
ADDRESS = "127.0.0.1"
STANDARD = {"http": 80, "https": 443}


@dataclass(frozen=True)
class PortSetting:
    text: str                        # "auto", "off" or "HTTP,HTTPS" as given
    http: int | None = None          # explicit numbers (0: any free port)
    https: int | None = None

    @property
    def auto(self) -> bool:
        return self.text == AUTO

    @property
    def off(self) -> bool:
        return self.text == OFF


def parse_setting(text: str) -> PortSetting:
    """``auto``, ``off`` or ``HTTP,HTTPS`` (numbers from 0 to 65535); UserError otherwise."""
    text = text.strip().lower()
    if text in (AUTO, OFF):
        return PortSetting(text)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(p.isdigit() and int(p) < 65536 for p in parts):
        raise UserError(f"invalid ingress ports {text!r}",
                        hint="give HTTP,HTTPS port numbers (0 for any free port, e.g. 8080,8443 "
                             "or 0,0), auto (80 and 443 when free) or off")
    return PortSetting(f"{int(parts[0])},{int(parts[1])}", int(parts[0]), int(parts[1]))


def settings_file(state_dir: Path) -> Path:
    return state_dir / "ingress.json"


def read_state(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(settings_file(state_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(state_dir: Path, **values: Any) -> None:
    data = read_state(state_dir)
    data.update(values)
    write_atomic(settings_file(state_dir), json.dumps(data, indent=2) + "\n", mode=0o600)


def current_setting(state_dir: Path) -> PortSetting:
    """The environment's setting, else the one kept from ``--ingress-ports``, else auto."""
    text = os.environ.get(ENV) or str(read_state(state_dir).get("ports") or AUTO)
    try:
        return parse_setting(text)
    except UserError:
        return PortSetting(AUTO)


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ADDRESS, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def open_listeners(setting: PortSetting, previous: dict[str, Any]
                   ) -> tuple[dict[str, socket.socket], dict[str, str]]:
    """Bound sockets by scheme, and why a scheme got none."""
    sockets: dict[str, socket.socket] = {}
    errors: dict[str, str] = {}
    if setting.off:
        return sockets, {"http": "off", "https": "off"}
    for scheme in ("http", "https"):
        explicit = getattr(setting, scheme)
        last = previous.get(scheme)
        tries = ([STANDARD[scheme]] if setting.auto else
                 [explicit] if explicit else [])
        if setting.auto or not explicit:
            tries += ([last] if isinstance(last, int) and last > 0 else []) + [0]
        for port in dict.fromkeys(tries):
            try:
                sockets[scheme] = bind(port)
                break
            except OSError as error:
                errors[scheme] = f"cannot listen on {ADDRESS}:{port}: {error.strerror or error}"
        if scheme in sockets:
            errors.pop(scheme, None)
    return sockets, errors
