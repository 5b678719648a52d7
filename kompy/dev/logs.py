"""The logs of a namespace's pods, interleaved and prefixed as ``docker compose up`` shows
them, with a crashed container's last words in red and its exit code.

One watch on the namespace's pods keeps their latest status; each app container of each pod
gets one follower for the pod's life. A follower streams the log of the container's current
run (``follow``, with ``timestamps``), and when the stream ends it looks at what happened:

- the same container runs again (an in-place restart of ``kompy dev``): it follows again
  from just after the last line it showed (``sinceTime``), so the output of a run that
  crashed before anyone looked is still shown, and nothing twice;
- the container exited and the kubelet replaced it, or it waits to be (a crash): its last
  lines are shown in red, then ``exited with code N``; the follower then takes the next
  container from its first line;
- the pod is gone: the follower ends.

To colour a crash's output, lines are held for :data:`HOLD` seconds before they are shown:
a program's dying words (a traceback, a panic) arrive together with its exit, so when the
stream ends within that time, they are still held and come out red. Nothing polls.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kompy.client import KubeClient
from kompy.client.objects import parse_time, restart_request
from kompy.dev.console import Console
from kompy.errors import KompyError

SERVICE_LABEL = "app.kubernetes.io/name"
HOLD = 0.15          # seconds a line is held back, so a crash's last words come out red
OUTCOME_WAIT = 3.0   # seconds to wait for the pod status to tell why a stream ended
RESTART_WAIT = 30.0  # seconds a container stopped for an in-place restart may take to run again


@dataclass
class _Follower:
    pod: str
    container: str
    prefix: str
    held: list[tuple[float, str]] = field(default_factory=list)  # (arrival, line)
    ending: bool = False   # the stream ended: hold everything until the outcome is known


class LogStreamer:
    def __init__(self, client: KubeClient, namespace: str, console: Console,
                 stop: threading.Event) -> None:
        self.client = client
        self.namespace = namespace
        self.console = console
        self.stop = stop
        self._cond = threading.Condition()
        self._pods: dict[str, dict[str, Any]] = {}         # name -> latest pod
        self._followers: dict[tuple[str, str], _Follower] = {}
        self._crashes: set[str] = set()                     # ids whose crash was shown
        self._threads = [threading.Thread(target=self._watch, name="dev-logs", daemon=True),
                         threading.Thread(target=self._flush, name="dev-logs-flush",
                                          daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_shown(self, container_id: str, timeout: float) -> bool:
        """Wait until the crash of ``container_id`` (its output and exit code) is on the
        screen, so that what the loop says about it comes after it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while container_id not in self._crashes and not self.stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # -- the pods ------------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                for kind, pod in self.client.watch("pods", self.namespace, timeout_seconds=30):
                    if self.stop.is_set():
                        return
                    self._seen(kind, pod)
            except KompyError:
                self.stop.wait(1.0)
        with self._cond:
            self._cond.notify_all()

    def _seen(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        name = str(meta.get("name"))
        with self._cond:
            if kind == "DELETED":
                self._pods.pop(name, None)
            else:
                self._pods[name] = pod
            self._cond.notify_all()
        if kind == "DELETED":
            return
        service = str((meta.get("labels") or {}).get(SERVICE_LABEL) or name)
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if not status.get("containerID"):
                continue
            key = (name, str(status.get("name")))
            with self._cond:
                if key in self._followers:
                    continue
                follower = _Follower(name, key[1], self._prefix(service, name))
                self._followers[key] = follower
            threading.Thread(target=self._follow, args=(follower,), name=f"dev-log-{name}",
                             daemon=True).start()

    def _status(self, pod: str, container: str) -> dict[str, Any] | None:
        """The container's latest status; None once the pod is gone."""
        found = self._pods.get(pod)
        if found is None:
            return None
        for status in (found.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == container:
                return dict(status)
        return {}

    # -- one container, for the pod's life -----------------------------------------------------
    def _follow(self, f: _Follower) -> None:
        followed = ""          # the container id whose log was last streamed
        last = 0               # nanoseconds of the last line shown from it
        while not self.stop.is_set():
            with self._cond:
                status = self._status(f.pod, f.container)
                while status is not None and not status.get("containerID") \
                        and not self.stop.is_set():
                    self._cond.wait(1.0)
                    status = self._status(f.pod, f.container)
            if status is None or self.stop.is_set():
                self._settle(f, crashed=None)
                with self._cond:
                    self._followers.pop((f.pod, f.container), None)
                return
            cid = str(status.get("containerID"))
            if cid != followed:
                followed, last = cid, 0
            last = self._stream(f, last)
            crashed = self._outcome(f, cid)
            if crashed is not None:
                last = self._rest(f, cid, last)
            self._settle(f, crashed, cid)
            if crashed is not None:
                self._wait_for_next(f, cid)

    def _stream(self, f: _Follower, last: int, *, follow: bool = True,
                previous: bool = False) -> int:
        """Stream the current run's log from after ``last`` (ns); the newest line's time.
        (Lines at or before ``last`` were shown by the previous stream; within a stream,
        Docker's stdout and stderr copiers may stamp lines slightly out of order.)"""
        since = _since(last)
        pending = b""
        newest = last
        try:
            for chunk in self.client.logs(f.pod, self.namespace, f.container, follow=follow,
                                          previous=previous, since_time=since,
                                          timestamps=True):
                if self.stop.is_set():
                    break
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                newest = max(newest, self._hold(f, lines, last))
        except KompyError:
            pass  # the container is not there (yet, or any more): the status says which
        if pending:
            newest = max(newest, self._hold(f, [pending], last))
        with self._cond:
            f.ending = True
        return newest

    def _rest(self, f: _Follower, cid: str, last: int) -> int:
        """What the crashed container wrote after the followed stream ended (a run that
        started and died between two looks: an in-place restart into a broken program).
        Read by its container id from the engine when it can say: the log API gives the
        pod's current or previous container, and which one the crashed one is, a pod status
        lagging behind the kubelet's replacement may not tell yet (the fresh container's
        first lines would come out red, as the crash's)."""
        since = _since(last)
        try:
            output = _run_output(cid, since)
        except KompyError:
            output = None
        if output is not None:
            lines = output.split(b"\n")
            if not lines[-1]:
                lines.pop()   # the end of the last line
            newest = self._hold(f, lines, last)
            with self._cond:
                f.ending = True
            return newest
        with self._cond:
            status = self._status(f.pod, f.container) or {}
        return self._stream(f, last, follow=False,
                            previous=status.get("containerID") != cid)

    def _hold(self, f: _Follower, lines: list[bytes], shown: int) -> int:
        """Hold ``lines`` back for a moment (see the module), leaving out those stamped at or
        before ``shown``; the newest time among them."""
        now = time.monotonic()
        kept = []
        newest = shown
        for raw in lines:
            stamp, _, text = raw.decode(errors="replace").partition(" ")
            ns = _nanoseconds(stamp)
            if ns is None:              # not a timestamped line: show it as it is
                kept.append((now, raw.decode(errors="replace")))
                continue
            if ns <= shown:
                continue                # shown already (an overlapping sinceTime)
            newest = max(newest, ns)
            kept.append((now, text))
        if kept:
            with self._cond:
                f.held.extend(kept)
                self._cond.notify_all()
        return newest

    def _outcome(self, f: _Follower, cid: str) -> int | None:
        """After a stream ended: the exit code when the container crashed (it exited and the
        kubelet replaced it, or holds it back), None when it runs again (an in-place
        restart: follow it again), the pod goes, or nothing is known within OUTCOME_WAIT
        seconds.

        Docker says at once whether the container runs again, and when its latest run
        started and ended. A run that started before the pod's restart request and ended
        after it was stopped for the in-place restart: it runs again once its stop is over,
        whatever the pod status says meanwhile (the stop's own exit, as terminated, under
        the same container id). Any other exit counts once the pod status says the
        kubelet is done with the container; its code is Docker's, as the status may still
        hold that stop's record."""
        deadline = time.monotonic() + OUTCOME_WAIT
        while not self.stop.is_set():
            state = _run_state(cid)
            with self._cond:
                status = self._status(f.pod, f.container)
                pod = self._pods.get(f.pod) or {}
                if status is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
                    return None
                if state is not None and state.running:
                    return None
                if state is not None and stopped_for_restart(state, pod):
                    deadline = max(deadline, time.monotonic() + OUTCOME_WAIT)
                    if _restart_overdue(state):
                        return None   # follow again: a stream of a stopped run ends at once
                else:
                    code = _exit_code(status, cid)
                    if code is not None:
                        return state.exit_code if state is not None and \
                            state.exit_code is not None else code
                    if state is None:
                        return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.2))
        return None

    def _wait_for_next(self, f: _Follower, cid: str) -> None:
        """After a crash: wait for the next container (a new id) or the pod's end."""
        with self._cond:
            while not self.stop.is_set():
                status = self._status(f.pod, f.container)
                if status is None or (status.get("containerID") not in (None, cid)):
                    return
                self._cond.wait(5.0)

    def _settle(self, f: _Follower, crashed: int | None, cid: str = "") -> None:
        """Show what is still held: in red, with the exit code, when the container crashed.
        (Written under the lock, so the flusher cannot show earlier lines after these.)"""
        with self._cond:
            held, f.held, f.ending = f.held, [], False
            text = "".join(f"{f.prefix}{self.console.paint(line, 'red') if crashed else line}\n"
                           for _, line in held)
            if text:
                self.console.lines(text)
            if crashed is not None:
                word = "crashed" if crashed else "exited"
                self.console.say(f"{f.pod}: container {f.container} {word} with exit code "
                                 f"{crashed}", "red" if crashed else "")
                self._crashes.add(cid)
                self._cond.notify_all()

    # -- showing held lines once they are old enough -------------------------------------------
    def _flush(self) -> None:
        while not self.stop.is_set():
            with self._cond:
                now = time.monotonic()
                due: list[tuple[_Follower, list[str]]] = []
                wake = 1.0
                for f in list(self._followers.values()):
                    if f.ending or not f.held:
                        continue
                    ripe = [line for t, line in f.held if t <= now - HOLD]
                    if ripe:
                        f.held = f.held[len(ripe):]
                        due.append((f, ripe))
                    if f.held:
                        wake = min(wake, f.held[0][0] + HOLD - now)
                if not due:
                    self._cond.wait(max(0.01, wake))
                    continue
                self.console.lines("".join(f"{f.prefix}{line}\n" for f, lines in due
                                           for line in lines))

    def _prefix(self, service: str, pod: str) -> str:
        """``web-x2x9k | ``: the service and the pod's random suffix, coloured per service."""
        suffix = pod.rsplit("-", 1)[-1] if pod != service else ""
        label = f"{service}-{suffix}" if suffix else service
        return f"{self.console.paint(label + ' |', self.console.service_colour(service))} "


def _run_state(cid: str) -> Any:
    from kompy.dev.runstate import run_state

    try:
        return run_state(cid)
    except KompyError:
        return None


def _since(last: int) -> float | None:
    """The time to read a log from, just after the line shown last (``last``, in ns; 0:
    from the start): a microsecond on, as sinceTime (and Docker's ``since``) is inclusive."""
    return (last + 1000) / 1e9 if last else None


def _run_output(cid: str, since: float | None) -> bytes | None:
    from kompy.dev.runstate import run_output

    return run_output(cid, since)


def _restart_overdue(state: Any) -> bool:
    """Whether a container stopped for an in-place restart has waited RESTART_WAIT seconds
    to run again (the kubelet may be down): the follower then looks afresh."""
    return state.finished is not None and time.time() - state.finished > RESTART_WAIT


def stopped_for_restart(state: Any, pod: dict[str, Any]) -> bool:
    """Whether the container's latest run (Docker's times) was stopped for the pod's
    in-place restart request: it started before the request and ended after it (the
    kubelet's own rule, kompy/cluster/kubelet/podworker.py ``stopped_for_restart``)."""
    requested = parse_time(restart_request(pod))
    return (requested is not None and state.started is not None
            and state.finished is not None and state.started < requested <= state.finished)


def _exit_code(status: dict[str, Any], cid: str) -> int | None:
    """The exit code of container ``cid`` once the kubelet replaced it or holds it back (a
    crash), or it ended for good; None while it may just be restarting in place."""
    state = status.get("state") or {}
    ended = state.get("terminated")
    if ended and ended.get("containerID") == cid:
        return int(ended.get("exitCode") or 0)
    # lastState of the container that runs again is the run a restart in place ended.
    last = (status.get("lastState") or {}).get("terminated")
    if last and last.get("containerID") == cid and (
            status.get("containerID") != cid or "waiting" in state):
        return int(last.get("exitCode") or 0)
    return None


def _nanoseconds(stamp: str) -> int | None:
    """RFC 3339 with up to nine fraction digits (Docker's and the kubelet's timestamps) as
    integer nanoseconds since the epoch: exact, so lines are never shown twice."""
    whole = parse_time(stamp[:19] + "Z") if len(stamp) >= 20 and stamp[10:11] == "T" else None
    if whole is None:
        return None
    fraction = stamp[19:].rstrip("Z")
    digits = fraction[1:] if fraction.startswith(".") else ""
    if not digits.isdigit() and digits:
        return None
    return int(whole) * 1_000_000_000 + int(digits.ljust(9, "0")[:9] or 0)
