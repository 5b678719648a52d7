"""Private temporary files for PEM data (``*-data`` of a kubeconfig, an exec plugin's client
certificate): ``requests`` and the ssl module take only paths. Each file is 0600 and removed
when the process exits."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile

_FILES: list[str] = []


def temp_pem(raw: bytes) -> str:
    fd, path = tempfile.mkstemp(prefix="kompy-kube-", suffix=".pem")  # mode 0600
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    if not _FILES:
        atexit.register(_cleanup)
    _FILES.append(path)
    return path


def _cleanup() -> None:
    for path in _FILES:
        with contextlib.suppress(OSError):
            os.unlink(path)
