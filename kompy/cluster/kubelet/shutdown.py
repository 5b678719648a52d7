"""Stopping many containers at once in the time of the longest grace period, not their sum.

Docker's stop call (stop signal, wait up to the timeout, SIGKILL) holds one API call, and one
of the backend's eight threads, for as long as its container takes to exit. A process that
ignores SIGTERM (a shell or ``httpd`` as PID 1 does) takes its whole grace period, so 300 such
pods took 300 / 8 x the grace period to stop, twice over with their sandboxes: ``kompy cluster
stop`` with 300 pods outlasted its 90 s. The kubelet's graceful node shutdown instead sends
every pod its stop signal at once and kills what is left when each grace period ends
(https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/): here every
container gets the stop signal of its image (STOPSIGNAL, else SIGTERM) in a few fast API calls,
one cheap listing of the running containers is taken a few times a second, and each container
still running at the end of its grace period gets SIGKILL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kompy.cluster.kubelet.backend import ContainerBackend, ContainerInfo
from kompy.errors import KompyError

log = logging.getLogger(__name__)

DEFAULT_STOP_SIGNAL = "SIGTERM"
# How often the running containers are listed while waiting for them to exit.
POLL_SECONDS = 0.2
# How long a container killed with SIGKILL may take to be reported gone before it is given up
# on (the engine reaps a killed container within milliseconds unless it is itself stuck).
KILL_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Stop:
    """A container to stop, and how many seconds it has to exit on its stop signal."""

    container: ContainerInfo
    grace: float


def stop_all(backend: ContainerBackend, stops: Sequence[Stop], *,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Stop every container of ``stops`` at once (see the module); the names of those still
    running when even SIGKILL was given up on (a stuck engine) come back."""
    if not stops:
        return []
    signals = _stop_signals(backend, {s.container.image for s in stops})
    start = clock()
    backend.map(lambda s: _signal(backend, s.container, signals[s.container.image]), stops)
    pending = {s.container.id: s for s in stops}
    killed: set[str] = set()
    give_up = start + max(s.grace for s in stops) + KILL_WAIT_SECONDS
    while pending:
        try:
            running = backend.running_ids({})
        except KompyError as error:
            log.warning("could not list the running containers: %s", error)
            running = set(pending)
        pending = {cid: s for cid, s in pending.items() if cid in running}
        now = clock()
        due = [s for cid, s in pending.items() if cid not in killed and now - start >= s.grace]
        backend.map(lambda s: _signal(backend, s.container, "SIGKILL"), due)
        killed.update(s.container.id for s in due)
        if not pending or now >= give_up:
            break
        sleep(POLL_SECONDS)
    return sorted(s.container.name for s in pending.values())


def _stop_signals(backend: ContainerBackend, images: set[str]) -> dict[str, str]:
    """Each image's stop signal, looked up once per image (kompy never sets one of its own
    on a container, so a container stops as its image says)."""
    found: dict[str, str] = {}
    for ref in images:
        try:
            info = backend.image(ref)
        except KompyError as error:
            log.warning("image %s: %s", ref, error)
            info = None
        found[ref] = (info.stop_signal if info is not None else "") or DEFAULT_STOP_SIGNAL
    return found


def _signal(backend: ContainerBackend, container: ContainerInfo, signal: str) -> None:
    try:
        backend.kill(container.id, signal)
    except KompyError as error:
        log.warning("could not send %s to %s: %s", signal, container.name, error)
