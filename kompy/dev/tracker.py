"""``kompy dev``'s memory of what it synced, and its view of the pods that should have it.

Synced files live in a container's writable layer, so a container that the kubelet replaces
(after a crash) or a new pod (a deleted pod, a reload that changed the template) starts
from the image, without them. Compose and Skaffold accept that loss; ``kompy dev`` does not:
it remembers, per service, every path it synced (:class:`SyncRecord`) and, when a pod of
the service runs a container it has not synced into yet, syncs the current files again
(and runs the rule's command again, and restarts the container in place when a
``sync+restart`` rule brought them), before it reports anything "up to date".

:meth:`PodTracker.settle` is how the loop knows a batch is done: every pod of the services
it touched runs, has the files, has restarted after the restart it asked for and is ready;
or it crashed after the change (its last exit code), or it is stuck (an image that cannot be
pulled). A rebuilt image has the files: the service's record starts afresh.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kompy.client import Gone, KubeClient
from kompy.client.objects import parse_time
from kompy.dev import sync
from kompy.dev.console import Console
from kompy.dev.diagnose import problems
from kompy.dev.plan import ServicePlan, SyncOp
from kompy.dev.runstate import run_state
from kompy.engine.containers import RunState
from kompy.errors import KompyError

# How long a restarted container must have run before a batch is "up to date": a program
# that cannot start usually dies within it (Kubernetes' minReadySeconds plays this part
# for rollouts).
STABLE = 0.5


@dataclass
class SyncRecord:
    """What a service's pods must have beyond their image."""

    ops: dict[str, SyncOp] = field(default_factory=dict)   # container path -> latest op
    restart: bool = False                # a sync+restart rule synced: restart after re-sync
    commands: list[tuple[str, ...]] = field(default_factory=list)   # sync+exec commands
    generation: int = 0                  # bumped by every change to the above

    def add(self, plan: ServicePlan) -> None:
        for op in plan.syncs:
            self.ops.pop(op.container_path, None)   # keep the order in which paths changed
            self.ops[op.container_path] = op
        self.restart = self.restart or (plan.restart and bool(plan.syncs))
        for command in plan.exec_commands:
            if command not in self.commands:
                self.commands.append(command)
        if plan.syncs or plan.exec_commands:
            self.generation += 1


@dataclass(frozen=True)
class Verdict:
    """How a service's pods took a batch of changes."""

    state: str                 # "ok", "crashed", "failed" or "pending"
    text: str = ""             # for crashed / failed: what, in words
    container: str = ""        # for crashed: the id of the container that crashed


class PodTracker:
    """A watch on the namespace's pods that re-syncs new containers (see the module)."""

    def __init__(self, client: KubeClient, namespace: str, console: Console,
                 stop: threading.Event) -> None:
        self.client = client
        self.namespace = namespace
        self.console = console
        self.stop = stop
        self.lock = threading.RLock()          # one change to pods at a time
        self.records: dict[str, SyncRecord] = {}
        self.targets: dict[str, sync.Target] = {}
        self.synced: dict[str, int] = {}       # container id -> generation synced into it
        self.restarts: dict[str, float] = {}   # container id -> in-place restart asked at
        self.extras = True                     # the built-in cluster's extras are on
        self._cond = threading.Condition()
        self._pods: dict[str, dict[str, Any]] = {}
        self._queue: queue.Queue[tuple[str, str, str]] = queue.Queue()
        self._queued: set[str] = set()
        self._ready = threading.Event()

    def start(self) -> None:
        for target, name in ((self._watch, "dev-pods"), (self._work, "dev-resync")):
            threading.Thread(target=target, name=name, daemon=True).start()
        self._ready.wait(10.0)

    def target(self, service: str, target: sync.Target) -> None:
        with self._cond:
            self.targets[service] = target

    def record(self, service: str) -> SyncRecord:
        return self.records.setdefault(service, SyncRecord())

    def forget(self, service: str) -> None:
        """A rebuilt image has the files: nothing to re-sync into its pods."""
        with self.lock:
            self.records.pop(service, None)

    def mark_synced(self, service: str, container_ids: Iterable[str]) -> None:
        gen = self.record(service).generation
        with self._cond:
            for cid in container_ids:
                if cid:
                    self.synced[cid] = gen

    def mark_restart(self, container_ids: Iterable[str], at: float) -> None:
        with self._cond:
            for cid in container_ids:
                if cid:
                    self.restarts[cid] = at

    # -- the watch -----------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                listing = self.client.list("pods", self.namespace)
                with self._cond:
                    self._pods = {str(p["metadata"]["name"]): p for p in listing["items"]}
                    self._cond.notify_all()
                self._ready.set()
                for pod in listing["items"]:
                    self._check(pod)
                version = str(listing["metadata"].get("resourceVersion") or "")
                for kind, pod in self.client.watch("pods", self.namespace,
                                                   resource_version=version or None,
                                                   timeout_seconds=60):
                    if self.stop.is_set():
                        return
                    name = str(pod["metadata"]["name"])
                    with self._cond:
                        if kind == "DELETED":
                            self._pods.pop(name, None)
                        else:
                            self._pods[name] = pod
                        self._cond.notify_all()
                    if kind != "DELETED":
                        self._check(pod)
            except Gone:
                continue
            except KompyError:
                self.stop.wait(1.0)

    def _check(self, pod: dict[str, Any]) -> None:
        """Queue a re-sync for a running container of a synced service that lacks the files."""
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        for service, target in list(self.targets.items()):
            record = self.records.get(service)
            if record is None or not record.generation or not _selects(target, pod):
                continue
            state = sync.pod_state(pod, target.container)
            cid = state.container_id
            with self._cond:
                if not state.running or self.synced.get(cid) == record.generation \
                        or cid in self._queued:
                    continue
                self._queued.add(cid)
            self._queue.put((service, state.name, cid))

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                service, pod, cid = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._resync(service, pod, cid)
            finally:
                with self._cond:
                    self._queued.discard(cid)
                    self._cond.notify_all()

    def _resync(self, service: str, pod: str, cid: str) -> None:
        with self.lock:
            record = self.records.get(service)
            target = self.targets.get(service)
            with self._cond:
                found = self._pods.get(pod)
            if record is None or target is None or found is None:
                return
            state = sync.pod_state(found, target.container)
            if self.synced.get(cid) == record.generation or state.container_id != cid \
                    or not state.running:
                return
            started = time.monotonic()
            try:
                sync.sync(self.client, target, [pod], list(record.ops.values()))
                for command in record.commands:
                    sync.run_command(self.client, target, pod, command, self.extras)
                # Without in-place restarts (the built-in cluster's extra) a new container
                # cannot be restarted with the files: deleting it would lose them again.
                restart_at = sync.request_restart(self.client, target, [pod]) \
                    if record.restart and self.extras else None
            except KompyError as error:
                run = _run_state(cid)
                if self.stop.is_set() or run is None or not run.running:
                    # It died meanwhile (the next container gets the files), or the session
                    # is ending and removing it: nothing the user must act on.
                    return
                self.console.warn(f"{service}: syncing the changed files again into the new "
                                  f"container of {pod} failed: {error.message}")
                self.mark_synced(service, [cid])   # do not retry a broken sync for ever
                return
            self.mark_synced(service, [cid])
            if restart_at is not None:
                self.mark_restart([cid], restart_at)
            files = len(record.ops)
            self.console.say(
                f"{pod}: new container: synced {files} changed file{'s' * (files != 1)} "
                f"again ({time.monotonic() - started:.2f} s)"
                + (", restarting it in place" if restart_at is not None else ""))

    # -- is a batch done? ----------------------------------------------------------------------
    def settle(self, services: Iterable[str], since: float, timeout: float,
               interrupted: Callable[[], bool]) -> dict[str, Verdict]:
        """Wait until every pod of ``services`` took the changes made from time ``since``
        on, or crashed or failed after them; "pending" for what is still undecided after
        ``timeout`` seconds or when ``interrupted()`` (new changes came)."""
        deadline = time.monotonic() + timeout
        names = list(services)
        with self._cond:
            while True:
                verdicts = {s: self._verdict(s, since) for s in names}
                if all(v.state != "pending" for v in verdicts.values()) \
                        or time.monotonic() >= deadline or interrupted() \
                        or self.stop.is_set():
                    return verdicts
                self._cond.wait(0.1)

    def _verdict(self, service: str, since: float) -> Verdict:
        target = self.targets.get(service)
        record = self.records.get(service)
        if target is None:
            return Verdict("ok")
        pods = [p for p in self._pods.values() if _selects(target, p)
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        if not pods:
            return Verdict("pending")
        states = []
        for pod in pods:
            status = _container(pod, target.container)
            crash = _crash(status, since)
            if crash is not None and (record is None or not record.generation
                                      or self.synced.get(crash[1]) == record.generation):
                # (A container that crashed with older files does not count: the change
                # is on its way into the next one.)
                return Verdict("crashed",
                               f"pod {pod['metadata']['name']}, exit code {crash[0]}",
                               crash[1])
            stuck = [p for p in problems([pod]) if p.reason != "CrashLoopBackOff"]
            if stuck:
                return Verdict("failed", f"{stuck[0].pod}: {stuck[0].text}")
            cid = str(status.get("containerID") or "")
            running = (status.get("state") or {}).get("running") or {}
            restart = self.restarts.get(cid)
            states.append(bool(
                running and status.get("ready")
                and (record is None or self.synced.get(cid) == record.generation
                     or not record.generation)
                and (restart is None or _restarted(cid, running.get("startedAt"), restart))))
        return Verdict("ok" if all(states) else "pending")


def _selects(target: sync.Target, pod: dict[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    wanted = dict(pair.split("=", 1) for pair in target.selector.split(",") if "=" in pair)
    return all(labels.get(k) == v for k, v in wanted.items())


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return {}


def _crash(status: dict[str, Any], since: float) -> tuple[int, str] | None:
    """(exit code, container id) of a run of this container that failed after ``since`` and
    that the kubelet replaced (or holds back: CrashLoopBackOff). The run a restart in place
    ended is ``lastState`` too (counted as upstream counts restarts), but of the container
    that runs again, or that ended since (its own exit is then ``state``): asked for, not a
    crash."""
    last = (status.get("lastState") or {}).get("terminated") or {}
    code = int(last.get("exitCode") or 0)
    cid = str(last.get("containerID") or "")
    if cid == status.get("containerID") and "waiting" not in (status.get("state") or {}):
        return None
    if code and _after(last.get("finishedAt"), since, lambda: _precise(cid, "finished")):
        return code, cid
    return None


def _restarted(cid: str, started: str | None, requested: float) -> bool:
    """The container started again after the restart requested at ``requested`` and has
    run for :data:`STABLE` seconds since (a program that dies at start-up dies in that
    time, and then it is a crash, not "up to date")."""
    if not _after(started, requested, partial(_precise, cid, "started")):
        return False
    state = _run_state(cid)   # the status may lag behind a quick death: ask Docker
    return state is not None and state.running and state.started is not None \
        and state.started >= requested and time.time() - state.started >= STABLE


def _after(text: str | None, at: float, precise: Callable[[], float | None]) -> bool:
    """Whether a status time (whole seconds, as Kubernetes writes them) is at or after the
    POSIX time ``at``; within the same second, ``precise()`` (Docker's time) decides."""
    whole = parse_time(text)
    if whole is None or whole < math.floor(at):
        return False
    if whole >= math.floor(at) + 1:
        return True
    exact = precise()
    return exact is not None and exact >= at


def _precise(container_id: str, which: str) -> float | None:
    state = _run_state(container_id)
    if state is None:
        return None
    return state.started if which == "started" else state.finished


def _run_state(container_id: str) -> RunState | None:

    try:
        return run_state(container_id) if container_id else None
    except KompyError:
        return None
