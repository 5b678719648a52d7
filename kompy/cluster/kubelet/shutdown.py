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
(:meth:`Stopper.finish`).

A kill is one per container instance, as upstream's: a container handed over while its stop
is under way (a probe's kill, then the pod's deletion or the node's shutdown) joins that stop
rather than starting a second one. Its preStop hook runs once and its stop signal is sent
once; the later kill only brings SIGKILL forward when its own grace period, counted from
then, ends sooner (the shorter of the remaining grace periods, as upstream's pod worker
passes a shorter grace period to a kill in progress), and is called back when the container
is gone.
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
        self._active: dict[str, _Entry] = {}  # container id -> its stop under way
        self._cond = threading.Condition()

    def begin(self, stops: Sequence[Stop], on_done: Done | None = None) -> Batch:
        """Start stopping ``stops`` and return at once: those without a hook get their stop
        signal now, each hook starts on a thread of its own. A container whose stop is
        under way already is joined (see the module). :meth:`poll` finishes the job."""
        now = self.clock()
        fresh: list[_Entry] = []
        with self._cond:
            entries: dict[str, _Entry] = {}
            for stop in stops:
                entry = self._active.get(stop.container.id)
                if entry is None:
                    entry = self._active[stop.container.id] = _Entry(stop, now)
                    fresh.append(entry)
                    if stop.pre_stop is None:
                        entry.signalled = now
                else:
                    _shorten(entry, now + stop.grace)
                entries[stop.container.id] = entry
            batch = Batch(entries, on_done)
            self._batches.append(batch)
            self._cond.notify_all()
        signals = _stop_signals(self.backend, {e.stop.container.image for e in fresh})
        self.backend.map(lambda e: _signal(self.backend, e.stop.container,
                                           signals[e.stop.container.image]),
                         [e for e in fresh if e.stop.pre_stop is None])
        for entry in fresh:
            if entry.stop.pre_stop is not None:
                threading.Thread(target=self._hook_then_signal,
                                 args=(entry, signals[entry.stop.container.image]),
                                 name=f"prestop-{entry.name}"[:40], daemon=True).start()
        return batch

    def stopping(self, container_id: str) -> bool:
        """Whether the container's stop is under way (handed over, not seen gone yet)."""
        with self._cond:
            return container_id in self._active

    def shorten(self, batch: Batch, grace: float) -> None:
        """A later deletion with a shorter grace period, counted from now, wins (upstream's
        pod worker only ever shortens a terminating pod's grace period)."""
        end = self.clock() + grace
        with self._cond:
            for entry in batch.entries.values():
                _shorten(entry, end)

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
                    if self._active.get(cid) is batch.entries.pop(cid):
                        del self._active[cid]
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
                if len(stuck) == len(batch.entries) and batch in self._batches:
                    batch.left = sorted(e.name for e in stuck)
                    self._batches.remove(batch)  # (once: a shutdown may poll beside run())
                    for cid, entry in batch.entries.items():
                        if self._active.get(cid) is entry:
                            del self._active[cid]
                    finished.append(batch)
            pending = bool(self._batches)
        for batch in finished:
            batch.done.set()
            if batch.on_done is not None:
                batch.on_done(batch.left)
        return pending

    def finish(self, stops: Sequence[Stop],
               sleep: Callable[[float], None] = time.sleep) -> list[str]:
        """Stop ``stops`` (joining the stops under way) and wait until they are gone; the
        names of those still running when even SIGKILL was given up on come back. Polls
        itself: the stopper's thread may have ended already (a shutdown)."""
        if not stops:
            return []
        batch = self.begin(stops)
        while not batch.done.is_set():
            self.poll()
            if not batch.done.is_set():
                sleep(POLL_SECONDS)
        return batch.left

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

    def gone(self, container_id: str) -> None:
        """The engine reported the container's death: done with it now, not at the next
        poll (a restart in place's start waits for that; its batch may be complete)."""
        with self._cond:
            if self._active.pop(container_id, None) is None:
                return
            batches = [b for b in self._batches if b.entries.pop(container_id, None)]
        self._finish(batches, self.clock())

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
            if self._active.get(entry.stop.container.id) is not entry:
                return  # it exited meanwhile (and may be started again: a restart in place)
            entry.signalled = self.clock()
        _signal(self.backend, entry.stop.container, signal)


def stop_all(backend: ContainerBackend, stops: Sequence[Stop], *,
             clock: Clock = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Stop every container of ``stops`` at once and wait (see the module), on a stopper of
    their own; the names of those still running when even SIGKILL was given up on (a stuck
    engine) come back."""
    return Stopper(backend, clock).finish(stops, sleep)


def _shorten(entry: _Entry, end: float) -> None:
    """Bring the entry's grace period forward to end at ``end`` when that is sooner."""
    if end < entry.began + entry.stop.grace:
        stop = entry.stop
        entry.stop = Stop(stop.container, end - entry.began, stop.pre_stop, stop.floor)


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
