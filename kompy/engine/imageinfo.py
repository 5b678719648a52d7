"""What a local image says about itself (EXPOSE ports, USER), for ``kompy convert``.

Importing this module does not import the docker SDK (the converter imports it for the value
type); only :func:`inspect_local_images` does, through :mod:`kompy.engine.images`. The
value type :class:`ImageInfo` is plain data: the conversion takes a mapping of image
reference -> ImageInfo as an input (``ConvertOptions.images``), so its output is a function
of the Compose files, the options and that mapping — deterministic for the same local images,
and exactly reproducible without an engine when no image is inspected (``kompy check`` and
the library default). Only :func:`inspect_local_images` talks to Docker, through
:mod:`kompy.engine`; nothing is pulled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# An engine that does not answer this fast is treated as absent: a conversion must not hang.
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class ImageInfo:
    """The parts of an image's config that change how its pods must be converted."""

    ref: str
    # Image config "ExposedPorts" ({"80/tcp": {}}), as (port, "TCP"|"UDP"|"SCTP"), sorted.
    exposed: tuple[tuple[int, str], ...] = ()
    # Image config "User": "" means root (Docker's default); "1000", "1000:1000", "nginx"...
    user: str = ""

    def runs_as_root(self) -> bool | None:
        """True for root, False for a numeric non-zero user, None for a user name (its uid is
        only known inside the image: the kubelet cannot check runAsNonRoot against it)."""
        name = self.user.partition(":")[0]
        if name in ("", "0", "root"):
            return True
        return False if name.isdigit() else None


def parse_exposed(exposed: Iterable[str]) -> tuple[tuple[int, str], ...]:
    """Docker's ExposedPorts keys ("80/tcp", "53/udp", "8080") as sorted (port, PROTOCOL)."""
    out: set[tuple[int, str]] = set()
    for key in exposed:
        number, _, proto = str(key).partition("/")
        if number.isdigit():
            out.add((int(number), (proto or "tcp").upper()))
    return tuple(sorted(out))


def inspect_local_images(refs: Iterable[str]) -> dict[str, ImageInfo] | None:
    """ImageInfo of each of ``refs`` that the local engine has; None when no engine answers.

    Images the engine does not have are left out (nothing is pulled): the conversion then
    falls back to what it does without an engine, for that image alone.
    """
    from kompy.engine.connection import EngineError, connect
    from kompy.engine.images import inspect_image
    from kompy.errors import ClusterError  # what connect() raises when no engine answers

    try:
        engine = connect(timeout=CONNECT_TIMEOUT)
    except ClusterError:
        return None
    out: dict[str, ImageInfo] = {}
    try:
        for ref in sorted(set(refs)):
            try:
                details = inspect_image(ref, engine)
            except EngineError as error:
                if error.status is None:
                    return None  # the engine went away
                continue  # an invalid reference: the conversion reports what it can
            if details is not None:
                out[ref] = ImageInfo(ref, parse_exposed(details.exposed_ports), details.user)
    finally:
        engine.close()
    return out
