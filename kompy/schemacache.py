"""Compiled JSON Schema validators, cached on disk between runs.

fastjsonschema turns a schema into Python source; generating and compiling that source is
most of a short run's time (about 0.5 s for the Compose Specification, 0.3-0.6 s per
Kubernetes kind), while loading the compiled code again takes milliseconds. ``kompy check``
runs on every commit (pre-commit), so the compiled code (marshal) is kept in kompy's cache
folder and loaded on the next run. An entry is named by a digest of the caller's key, kompy's
and fastjsonschema's versions and the interpreter's bytecode tag, so an upgrade never reads an
old entry. Any problem with the cache folder (read only, full, a corrupted file) falls back to
compiling in memory: the cache only saves time.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

from kompy import __version__

log = logging.getLogger(__name__)

Validator = Callable[[Any], Any]
ENTRY = "kompy_validate"


def cache_dir() -> Path:
    """``$KOMPY_CACHE_DIR``, else ``$XDG_CACHE_HOME/kompy``, else ``~/.cache/kompy``."""
    explicit = os.environ.get("KOMPY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path("~/.cache").expanduser()) / "kompy"


def compile_cached(key: str, schema: Callable[[], dict[str, Any]]) -> Validator:
    """The validator of ``schema()``, which is only built when the cache has no entry for ``key``.

    ``key`` must change whenever the schema does: name its source and version (for example
    ``"k8s-1.31-apps/v1-Deployment"`` plus the schema file's size and modification time).
    """
    import fastjsonschema

    digest = hashlib.sha256(
        f"{key}\0{__version__}\0{fastjsonschema.VERSION}\0{sys.implementation.cache_tag}"
        .encode()
    ).hexdigest()[:24]
    path = cache_dir() / "schemas" / f"v_{digest}.marshal"
    code = _read(path)
    if code is None:
        code = _generate(key, schema())
        try:
            from kompy.fsutil import write_atomic

            write_atomic(path, marshal.dumps(code))
        except OSError as error:
            log.debug("schema cache not written (%s); compiled in memory", error)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # fastjsonschema's generated code, or our own cache of it
    compiled: Validator = namespace[ENTRY]
    return compiled


def _generate(key: str, schema: dict[str, Any]) -> CodeType:
    import fastjsonschema

    source = fastjsonschema.compile_to_code(schema)
    # The entry point is the first function fastjsonschema writes (named after the schema's
    # $id); give it a fixed name.
    entry = re.search(r"^def (\w+)\(", source, re.MULTILINE)
    if entry is None:
        raise RuntimeError("fastjsonschema generated no function")
    source += f"\n\n{ENTRY} = {entry[1]}\n"
    return compile(source, f"<schema {key}>", "exec")


def _read(path: Path) -> CodeType | None:
    """The cached code object, or None when absent or unusable (it is then rebuilt)."""
    try:
        code = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, TypeError) as error:
        log.debug("schema cache entry %s unusable (%s); rebuilding", path, error)
        return None
    return code if isinstance(code, CodeType) else None
