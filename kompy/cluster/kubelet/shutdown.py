"""Stopping containers at once, each within its own grace period: a deleted pod's and a
node's at shutdown.

Docker's stop call (stop signal, wait up to the timeout, SIGKILL) holds one API call, and one
of the backend's eight threads, for as long as its container takes to exit. A process that
ignores SIGTERM (a shell or ``httpd`` as PID 1 does) takes its whole grace period, so 300 such
pods took 300 / 8 x the grace period to stop. Upstream's kubelet instead terminates each pod
in its own pod worker, each container in its own goroutine (``killContainer`` in
``pkg/kubelet/kuberuntime/kuberuntime_container.go``), and its graceful node shutdown sends
every pod its stop signal at once
(https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/).

Here one :class:`Stopper` does that for everything: every container gets the stop signal of
its image (STOPSIGNAL, else SIGTERM) in a few fast API calls, or first its preStop hook (on a
thread of its own, the hook's time counting against the grace period, as upstream); one cheap
listing of the running containers is taken a few times a second, and each container still
running when its grace period ends gets SIGKILL. A pod's deletion hands its containers over
and is called back when they are gone (:meth:`Stopper.begin`); a shutdown waits for them
(:func:`stop_all`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kompy.cluster.kubelet.backend import ContainerBackend, ContainerInfo
from kompy.errors import KompyError

log = logging.getLogger(__name__)

DEFAULT_STOP_SIGNAL = "SIGTERM"
# How often the running containers are listed while waiting for them to exit.
POLL_SECONDS = 0.2
# How long a container killed with SIGKILL may take to be reported gone before it is given up
# on (the engine reaps a killed container within milliseconds unless it is itself stuck).
KILL_WAIT_SECONDS = 10.0

Clock = Callable[[], float]
Done = Callable[[list[str]], None]


@dataclass(frozen=True)
class Stop:
    """A container to stop and its grace period in seconds, counted from the start of the
    stop. ``pre_stop`` (the container's preStop hook) runs first, within the grace period;
    ``floor`` is the least time the container gets between its stop signal and SIGKILL
    (upstream's ``minimumGracePeriodInSeconds``, 2 s, for a pod's containers)."""

    container: ContainerInfo
    grace: float
    pre_stop: Callable[[], None] | None = None
    floor: float = 0.0


@dataclass
class _Entry:
    stop: Stop
    began: float
    signalled: float | None = None  # when the stop signal was sent
    killed: bool = False

    @property
    def name(self) -> str:
        return self.stop.container.name

    def kill_at(self) -> float | None:
        if self.signalled is None:
            return None
        return max(self.began + self.stop.grace, self.signalled + self.stop.floor)


@dataclass
class Batch:
    """The containers handed over together; ``on_done`` gets the names of those that would
    not die (a stuck engine) once every other one exited."""

    entries: dict[str, _Entry]
    on_done: Done | None
    left: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class Stopper:
    def __init__(self, backend: ContainerBackend, clock: Clock = time.monotonic) -> None:
        self.backend = backend
        self.clock = clock
        self._batches: list[Batch] = []
        self._cond = threading.Condition()

    def begin(self, stops: Sequence[Stop], on_done: Done | None = None) -> Batch:
        """Start stopping ``stops`` and return at once: those without a hook get their stop
        signal now, each hook starts on a thread of its own. :meth:`poll` finishes the job."""
        now = self.clock()
        batch = Batch({s.container.id: _Entry(s, now) for s in stops}, on_done)
        signals = _stop_signals(self.backend, {s.container.image for s in stops})
        plain = [e for e in batch.entries.values() if e.stop.pre_stop is None]
        for entry in plain:
            entry.signalled = now
        self.backend.map(lambda e: _signal(self.backend, e.stop.container,
                                           signals[e.stop.container.image]), plain)
        for entry in batch.entries.values():
            if entry.stop.pre_stop is not None:
                threading.Thread(target=self._hook_then_signal,
                                 args=(entry, signals[entry.stop.container.image]),
                                 name=f"prestop-{entry.name}"[:40], daemon=True).start()
        with self._cond:
            self._batches.append(batch)
            self._cond.notify_all()
        return batch

    def shorten(self, batch: Batch, grace: float) -> None:
        """A later deletion with a shorter grace period, counted from now, wins (upstream's
        pod worker only ever shortens a terminating pod's grace period)."""
        now = self.clock()
        with self._cond:
            for entry in batch.entries.values():
                end = entry.began + entry.stop.grace
                if now + grace < end:
                    entry.stop = Stop(entry.stop.container, now + grace - entry.began,
                                      entry.stop.pre_stop, entry.stop.floor)

    def poll(self) -> bool:
        """One look at the running containers: the exited ones are done with, those whose
        hook ran out of time get their signal, those past their grace period SIGKILL.
        True while anything is left to wait for."""
        with self._cond:
            batches = list(self._batches)
        if not batches:
            return False
        try:
            running = self.backend.running_ids({})
        except KompyError as error:
            log.warning("could not list the running containers: %s", error)
            running = {cid for b in batches for cid in b.entries}
        now = self.clock()
        unsignalled: list[_Entry] = []
        due: list[_Entry] = []
        with self._cond:
            for batch in batches:
                for cid in [cid for cid in batch.entries if cid not in running]:
                    del batch.entries[cid]
                for entry in batch.entries.values():
                    if entry.signalled is None and now >= entry.began + entry.stop.grace:
                        entry.signalled = now  # the hook overran: upstream stops waiting
                        unsignalled.append(entry)
                    kill_at = entry.kill_at()
                    if not entry.killed and kill_at is not None and now >= kill_at:
                        entry.killed = True
                        due.append(entry)
        signals = _stop_signals(self.backend, {e.stop.container.image for e in unsignalled})
        self.backend.map(lambda e: _signal(self.backend, e.stop.container,
                                           signals[e.stop.container.image]), unsignalled)
        self.backend.map(lambda e: _signal(self.backend, e.stop.container, "SIGKILL"), due)
        return self._finish(batches, now)

    def _finish(self, batches: list[Batch], now: float) -> bool:
        finished: list[Batch] = []
        with self._cond:
            for batch in batches:
                stuck = [e for e in batch.entries.values()
                         if e.killed and (e.kill_at() or now) + KILL_WAIT_SECONDS <= now]
                if len(stuck) == len(batch.entries):
                    batch.left = sorted(e.name for e in stuck)
                    self._batches.remove(batch)
                    finished.append(batch)
            pending = bool(self._batches)
        for batch in finished:
            batch.done.set()
            if batch.on_done is not None:
                batch.on_done(batch.left)
        return pending

    def run(self, stop: threading.Event) -> None:
        """The kubelet's stopper thread: poll while anything is being stopped, else sleep
        until :meth:`begin` hands something over."""
        while not stop.is_set():
            with self._cond:
                if not self._batches:
                    self._cond.wait(1.0)
                    continue
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the thread must outlive one bad poll
                log.exception("stopping containers")
            stop.wait(POLL_SECONDS)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _hook_then_signal(self, entry: _Entry, signal: str) -> None:
        hook = entry.stop.pre_stop
        assert hook is not None
        try:
            hook()
        except Exception:  # noqa: BLE001 - a failed hook still lets the container stop
            log.exception("preStop hook of %s", entry.name)
        with self._cond:
            if entry.signalled is not None:
                return  # the grace period ran out first: poll() signalled it
            entry.signalled = self.clock()
        _signal(self.backend, entry.stop.container, signal)


def stop_all(backend: ContainerBackend, stops: Sequence[Stop], *,
             clock: Clock = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Stop every container of ``stops`` at once and wait (see the module); the names of
    those still running when even SIGKILL was given up on (a stuck engine) come back."""
    if not stops:
        return []
    stopper = Stopper(backend, clock)
    batch = stopper.begin(stops)
    while stopper.poll():
        sleep(POLL_SECONDS)
    return batch.left


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
