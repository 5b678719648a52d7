"""What a running ``kompy dev`` is doing, in a small JSON file others can read (the dashboard's
dev panel): the watched services, the last sync/rebuild and how long it took, build errors.

One file per project, ``$KOMPY_HOME/dev/<project>.json``, written atomically on each change
and marked stopped when the session ends. It holds no file contents or environment, only
service names, times and kompy's own error messages.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from kompy.errors import UserError
from kompy.fsutil import write_atomic

MAX_ERRORS = 5
MAX_ERROR_CHARS = 4000


def status_path(project: str) -> Path:
    # Imported here: readers of a status file (the dashboard, a client of any cluster) never
    # load the built-in cluster's package.
    from kompy.cluster.daemon.state import kompy_home

    return status_file(kompy_home(), project)


def status_file(home: Path, project: str) -> Path:
    return home / "dev" / f"{project}.json"


@dataclass(frozen=True)
class DevStatus:
    project: str
    namespace: str
    state: str = "starting"                  # starting, watching, stopped
    pid: int = field(default_factory=os.getpid)
    watched: tuple[str, ...] = ()
    last_kind: str = ""                      # sync, rebuild, reload
    last_services: tuple[str, ...] = ()
    last_at: float = 0.0                     # POSIX time the change was carried out
    last_seconds: float = 0.0
    last_ok: bool = True
    errors: tuple[str, ...] = ()

    def with_change(self, kind: str, services: list[str], seconds: float, ok: bool,
                    error: str = "") -> DevStatus:
        errors = self.errors
        if error:
            errors = (*self.errors, error[:MAX_ERROR_CHARS])[-MAX_ERRORS:]
        return replace(self, last_kind=kind, last_services=tuple(services),
                       last_at=time.time(), last_seconds=round(seconds, 3), last_ok=ok,
                       errors=errors if not ok else ())


def write_status(status: DevStatus, path: Path | None = None) -> None:
    write_atomic(path or status_path(status.project),
                 json.dumps(asdict(status), indent=1) + "\n", mode=0o600)


def unwritable(status: DevStatus, error: OSError) -> UserError:
    """The user's error of a status folder that cannot be written (a KOMPY_HOME that is a
    file or not theirs, a ``dev`` file in it), said before the session deploys anything."""
    from kompy.cluster.daemon.state import home_origin

    folder = status_path(status.project).parent
    reason = "a file is in the way" if isinstance(error, FileExistsError) else \
        error.strerror or str(error)
    return UserError(
        f"cannot write the status of this dev session to {folder}: {reason} "
        f"({error.filename or folder})",
        hint=f"the folder comes from {home_origin()}: point KOMPY_HOME at a folder you can "
             "write (the dashboard's dev panel reads the session there)")


def read_status(path: Path) -> DevStatus | None:
    """The session's status, or None when none ran (or its file is unreadable)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {k: v for k, v in raw.items() if k in DevStatus.__dataclass_fields__}
        for key in ("watched", "last_services", "errors"):
            known[key] = tuple(known.get(key) or ())
        return DevStatus(**known)
    except (OSError, ValueError, TypeError):
        return None
