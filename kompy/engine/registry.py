"""Pushing images to registries, with progress, and asking a registry what it holds.

Through the engine (the docker SDK's ``push`` and ``inspect_distribution``), so the engine's
own credentials (``docker login``) and registry settings apply: Docker treats registries on
127.0.0.0/8 as insecure by default (plain HTTP allowed), which is what a local test registry
needs. A failed push, or a registry that does not answer, is one :class:`UserError` line
naming the image and the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import docker.errors

from kompy.engine.connection import EngineError, call, connect, error_reason
from kompy.engine.images import inspect_image, split_ref
from kompy.engine.refs import parse, registry_of
from kompy.errors import UserError

# Layer states after which a layer needs nothing more.
DONE = ("Pushed", "Layer already exists", "Mounted from")


@dataclass
class PushEvent:
    """One message of the engine's push stream, about one layer (``layer`` "" for the
    image as a whole)."""

    layer: str
    status: str
    current: int = 0
    total: int = 0


def push_image(ref: str, on_event: Callable[[PushEvent], None] | None = None) -> str:
    """Push the local image ``ref`` and return the digest the registry gave it."""
    repo, tag = split_ref(ref)
    client = connect(timeout=600)  # a push may take minutes
    digest = ""
    try:
        chunks = call(f"push {ref}", lambda: client.api.push(repo, tag=tag, stream=True,
                                                              decode=True))
        for chunk in chunks:
            if "error" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise push_failed(ref, str(detail.get("message") or chunk["error"]))
            aux = chunk.get("aux")
            if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                digest = str(aux["Digest"])
            if on_event is not None and chunk.get("status"):
                detail = chunk.get("progressDetail") or {}
                on_event(PushEvent(str(chunk.get("id") or ""), str(chunk["status"]),
                                   int(detail.get("current") or 0),
                                   int(detail.get("total") or 0)))
    except EngineError as error:
        raise push_failed(ref, error.reason) from None
    except docker.errors.DockerException as error:
        raise push_failed(ref, error_reason(error)) from None
    finally:
        client.close()
    return digest


def push_failed(ref: str, reason: str) -> UserError:
    registry = registry_of(ref)
    first = reason.strip().splitlines()[0] if reason.strip() else "no reason given"
    return UserError(f"pushing image {ref} to registry {registry} failed: {first}",
                     hint=f"check that {registry} answers and that you may push there "
                          f"(`docker login {registry}`)")


def remote_digest(ref: str) -> str | None:
    """The manifest digest the registry holds for ``ref``; None when it holds none (or
    cannot be asked: the push that follows says why)."""
    client = connect()
    try:
        data: dict[str, Any] = client.api.inspect_distribution(ref)
    except (docker.errors.DockerException, OSError):
        return None
    finally:
        client.close()
    descriptor = data.get("Descriptor") or {}
    return str(descriptor.get("digest") or "") or None


def is_pushed(ref: str) -> bool:
    """Whether the registry holds exactly the local image ``ref`` (its digest is one the
    engine recorded for this name when it pushed or pulled it)."""
    local = inspect_image(ref)
    if local is None:
        return False
    name = parse(ref).name
    digests = {d.split("@", 1)[1] for d in local.repo_digests
               if "@" in d and d.split("@", 1)[0] == name}
    if not digests:
        return False
    return remote_digest(ref) in digests


@dataclass
class PushProgress:
    """Shows a push: on a terminal one line redrawn as layers move (at most ten times a
    second); otherwise a plain line per layer when it is done, for logs and CI."""

    out: TextIO
    terminal: bool
    prefix: str = "  "
    say: Callable[[str], None] | None = None   # for the plain lines, instead of ``out``
    _layers: dict[str, PushEvent] = field(default_factory=dict)
    _drawn: float = 0.0

    def __call__(self, event: PushEvent) -> None:
        if not event.layer or event.status.startswith(("The push refers", "latest:")):
            return
        previous = self._layers.get(event.layer)
        if previous is not None and not event.total:  # "Pushed" carries no sizes
            event = PushEvent(event.layer, event.status, previous.current, previous.total)
        self._layers[event.layer] = event
        if not self.terminal:
            if event.status.startswith(DONE):
                line = f"{self.prefix}{event.layer}: {event.status}"
                if self.say is not None:
                    self.say(line)
                else:
                    self._line(line + "\n")
            return
        now = time.monotonic()
        if now - self._drawn >= 0.1 or event.status.startswith(DONE):
            self._drawn = now
            self._line("\r\x1b[K" + self.summary())

    def summary(self) -> str:
        layers = list(self._layers.values())
        done = sum(1 for e in layers if e.status.startswith(DONE))
        current = sum(e.total if e.status.startswith(DONE) else e.current for e in layers)
        total = sum(e.total for e in layers)
        size = f", {_mb(current)} of {_mb(total)}" if total else ""
        return f"{self.prefix}{done}/{len(layers)} layers pushed{size}"

    def finish(self) -> None:
        if self.terminal and self._layers:
            self._line("\r\x1b[K")

    def _line(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            pass


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
