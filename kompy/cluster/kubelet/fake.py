"""An in-memory :class:`ContainerBackend`: the kubelet and the controllers without Docker.

Containers, networks, volumes and images live in dicts; nothing runs. A test plays the
processes' part: :meth:`FakeBackend.exit` makes a running container's process exit (as a
crash or a completion), ``exec_handler`` answers exec calls (exec probes, ``kompy exec``),
and ``calls`` records what the kubelet asked for (``("stop", id, timeout)``...), so grace
periods and restarts can be checked. Deaths are reported on :meth:`events` as Docker reports
them (``die``), which is what wakes the kubelet. The integration tests run the same kubelet
on the real engine; this fake keeps the state machine's tests fast and exact.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import itertools
import queue
import signal as signals
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from kompy.cluster.kubelet.backend import (
    LABEL_CLUSTER,
    LABEL_NAMESPACE,
    LABEL_OWNER,
    RESYNC_EVENT,
    ContainerInfo,
    ContainerSpec,
    ContainerUsage,
    ImageInfo,
    ImagePullError,
    NetworkInfo,
)
from kompy.cluster.kubelet.fake_process import (
    ExecHandler,
    FakeProcess,
    StreamHandler,
    default_handler,
)
from kompy.cluster.kubelet.fake_usage import FakeLoad
from kompy.engine.connection import EngineError
from kompy.errors import ClusterError

T = TypeVar("T")
R = TypeVar("R")

NEVER = "0001-01-01T00:00:00Z"  # Docker's time of what has not happened yet


def _image_id(ref: str) -> str:
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def docker_now() -> str:
    """The current time as Docker writes it (nanosecond digits)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


@dataclass
class FakeContainer:
    id: str
    spec: ContainerSpec
    image_id: str
    status: str = "created"
    exit_code: int = 0
    started_at: str = NEVER
    finished_at: str = NEVER
    oom_killed: bool = False
    ip: str = ""
    created_at: str = field(default_factory=docker_now)
    error: str = ""
    output: list[tuple[float, bytes]] = field(default_factory=list)  # (time, one line)
    files: dict[str, bytes] = field(default_factory=dict)

    def info(self) -> ContainerInfo:
        return ContainerInfo(
            id=self.id, name=self.spec.name, labels=dict(self.spec.labels), status=self.status,
            exit_code=self.exit_code, started_at=self.started_at,
            finished_at=self.finished_at, oom_killed=self.oom_killed, image=self.spec.image,
            image_id=self.image_id, ip=self.ip, error=self.error, created_at=self.created_at)


F = TypeVar("F", bound=Callable[..., Any])


def _engine_call(method: F) -> F:
    """A call to the engine: it fails as Docker's client fails while the engine is down
    (:meth:`FakeBackend.outage`)."""

    @functools.wraps(method)
    def call(self: FakeBackend, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise EngineError(f"{method.__name__}: Docker engine connection failed: [Errno "
                              "111] Connection refused", reason="Connection refused")
        return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]


class FakeBackend:
    """:class:`kompy.cluster.kubelet.backend.ContainerBackend` in memory (see the module)."""

    def __init__(self, root: Path, cluster: str = "fake",
                 images: Iterable[str] = ("kompy/busybox:1",),
                 pullable: Iterable[str] = ()) -> None:
        self.cluster = cluster
        self.root = root  # volumes' "mountpoints" are folders under it
        self.images = {ref: ImageInfo(id=_image_id(ref), repo_digests=()) for ref in images}
        self.pullable = set(pullable)
        # Pullable only with these credentials (an image of a private registry).
        self.protected: dict[str, dict[str, str]] = {}
        self.pull_auths: list[dict[str, str] | None] = []
        self.containers: dict[str, FakeContainer] = {}
        self.networks: dict[str, NetworkInfo] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.exec_handler: ExecHandler = lambda info, command: (0, b"")
        # Interactive exec and attach (fake_process.py); None: the default handler.
        self.stream_handler: StreamHandler | None = None
        self.processes: list[FakeProcess] = []
        # Why Docker cannot start a container ("" when it can): e.g. its executable is
        # missing from the image. The container stays "created" with that error.
        self.start_error: Callable[[ContainerSpec], str] = lambda spec: ""
        # Whether the container's process ignores its stop signal (a shell or ``httpd`` as
        # PID 1 does): a stop then waits its whole timeout before the SIGKILL, as Docker's.
        self.stop_ignored: Callable[[ContainerSpec], bool] = lambda spec: False
        self._lock = threading.RLock()
        self.down = False  # see outage()
        self._events: queue.Queue[dict[str, object]] = queue.Queue()
        self._ids = itertools.count(1)
        self._ips = itertools.count(2)
        self._subnets = itertools.count(1)
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="kompy-fake")
        self.loads: dict[str, FakeLoad] = {}  # see load()

    # -- what a test does -------------------------------------------------------------------
    def exit(self, container_id: str, code: int = 0, *, oom: bool = False) -> None:
        """The container's process exits with ``code`` (a crash, or a job done)."""
        with self._lock:
            self._stopped(self.containers[container_id], code, oom=oom)

    def write(self, container_id: str, text: str) -> None:
        """The container's process prints ``text`` (kept line by line with the time)."""
        with self._lock:
            now = _dt.datetime.now(_dt.UTC).timestamp()
            self.containers[container_id].output.extend(
                (now, line) for line in text.encode().splitlines(keepends=True))

    def load(self, container_id: str, millicores: int, working_set: int = 0) -> None:
        """The container's process uses this much CPU from now on, and this much memory."""
        with self._lock:
            self.loads.setdefault(container_id, FakeLoad()).set(millicores, working_set)

    def running(self, **labels: str) -> list[ContainerInfo]:
        """This cluster's running containers whose labels include ``labels``."""
        with self._lock:
            return [c.info() for c in self.containers.values()
                    if c.status == "running" and self._matches(c.spec.labels, labels)]

    def outage(self, *, kill: bool = True) -> None:
        """The engine goes away (a Docker restart): every call fails as on a refused
        connection, the event stream breaks, and (``kill``) the containers die without
        their deaths being reported, as when dockerd restarts without live-restore."""
        with self._lock:
            self.down = True
            if kill:
                for c in self.containers.values():
                    if c.status == "running":
                        c.status, c.exit_code = "exited", 255
                        c.finished_at = docker_now()

    def recover(self) -> None:
        """The engine answers again; the event stream is back (and says it was lost)."""
        with self._lock:
            self.down = False
            self._events.put({"status": RESYNC_EVENT})

    def called(self, verb: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [call for call in self.calls if call[0] == verb]

    # -- helpers ------------------------------------------------------------------------------
    def labels(self, namespace: str, owner: str, **extra: str) -> dict[str, str]:
        return {LABEL_CLUSTER: self.cluster, LABEL_NAMESPACE: namespace, LABEL_OWNER: owner,
                **extra}

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return list(self.pool.map(fn, items))

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.pool.submit(fn, *args)

    def _matches(self, labels: dict[str, str], wanted: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in {LABEL_CLUSTER: self.cluster,
                                                   **wanted}.items())

    def _stopped(self, c: FakeContainer, code: int, *, oom: bool = False) -> None:
        if c.status != "running":
            return
        c.status, c.exit_code, c.oom_killed = "exited", code, oom
        c.finished_at = docker_now()
        self._events.put({"status": "oom" if oom else "die", "id": c.id,
                          "Actor": {"ID": c.id, "Attributes": dict(c.spec.labels)}})

    def _get(self, container_id: str) -> FakeContainer:
        found = self.containers.get(container_id)
        if found is None:
            raise ClusterError(f"container {container_id[:12]}: not found")
        return found

    # -- networks and volumes -------------------------------------------------------------------
    @_engine_call
    def ensure_network(self, name: str, labels: dict[str, str], subnet: str | None = None,
                       gateway: str | None = None) -> NetworkInfo:
        with self._lock:
            if name not in self.networks:
                n = next(self._subnets)
                subnet = subnet or f"10.{200 + n // 256}.{n % 256}.0/24"
                gateway = gateway or subnet.rsplit(".", 1)[0] + ".1"
                self.networks[name] = NetworkInfo(
                    id=f"net{n}", name=name, subnet=subnet, gateway=gateway,
                    labels={LABEL_CLUSTER: self.cluster, **labels})
            return self.networks[name]

    @_engine_call
    def list_networks(self, labels: dict[str, str]) -> list[NetworkInfo]:
        with self._lock:
            return [n for n in self.networks.values() if self._matches(n.labels, labels)]

    @_engine_call
    def used_subnets(self) -> list[str]:
        with self._lock:
            return [n.subnet for n in self.networks.values()]

    @_engine_call
    def remove_network(self, name: str) -> None:
        with self._lock:
            self.networks.pop(name, None)

    @_engine_call
    def ensure_volume(self, name: str, labels: dict[str, str],
                      tmpfs_size: str | None = None, mode: int | None = None) -> str:
        with self._lock:
            self.volumes.setdefault(name, {LABEL_CLUSTER: self.cluster, **labels})
        return name

    @_engine_call
    def volume_mountpoint(self, name: str) -> str:
        path = self.root / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    @_engine_call
    def remove_volume(self, name: str) -> None:
        with self._lock:
            self.volumes.pop(name, None)

    @_engine_call
    def list_volumes(self, labels: dict[str, str]) -> list[str]:
        with self._lock:
            return [n for n, lab in self.volumes.items() if self._matches(lab, labels)]

    # -- images ---------------------------------------------------------------------------------
    @_engine_call
    def image(self, ref: str) -> ImageInfo | None:
        return self.images.get(ref)

    @_engine_call
    def pull(self, ref: str, auth: Mapping[str, str] | None = None) -> ImageInfo:
        with self._lock:
            self.calls.append(("pull", ref))
            self.pull_auths.append(dict(auth) if auth else None)
            if ref not in self.pullable:
                raise ImagePullError(f"image '{ref}' not found locally and could not be "
                                     "pulled: pull access denied")
            needed = self.protected.get(ref)
            if needed is not None and dict(auth or {}) != needed:
                raise ImagePullError(f"image '{ref}' not found locally and could not be "
                                     "pulled: unauthorized: authentication required")
            self.images[ref] = ImageInfo(id=_image_id(ref), repo_digests=(ref,))
            return self.images[ref]

    # -- containers -----------------------------------------------------------------------------
    @_engine_call
    def create(self, spec: ContainerSpec) -> str:
        with self._lock:
            if any(c.spec.name == spec.name for c in self.containers.values()):
                raise ClusterError(f"create container {spec.name}: Conflict. The container "
                                   "name is already in use")
            image = self.images.get(spec.image)
            if image is None:
                raise ClusterError(f"create container {spec.name}: No such image: "
                                   f"{spec.image}")
            cid = f"{next(self._ids):012x}" + "0" * 52
            self.containers[cid] = FakeContainer(cid, replace(spec), image.id)
            self.calls.append(("create", spec.name))
            return cid

    @_engine_call
    def start(self, container_id: str) -> None:
        with self._lock:
            c = self._get(container_id)
            self.calls.append(("start", c.spec.name))
            if c.status == "running":
                return
            error = self.start_error(c.spec)
            if error:
                c.error, c.exit_code = error, 127
                raise ClusterError(f"start container {container_id[:12]}: {error}")
            c.error = ""
            c.status, c.exit_code, c.oom_killed = "running", 0, False
            c.started_at, c.finished_at = docker_now(), NEVER
            if c.spec.network and not c.ip:
                net = self.networks.get(c.spec.network)
                prefix = net.subnet.rsplit(".", 1)[0] if net else "10.199.0"
                c.ip = f"{prefix}.{next(self._ips) % 250 + 2}"

    @_engine_call
    def stop(self, container_id: str, timeout: int) -> None:
        with self._lock:
            c = self.containers.get(container_id)
            self.calls.append(("stop", container_id, timeout))
            ignored = c is not None and c.status == "running" and self.stop_ignored(c.spec)
            if c is not None and not ignored:
                self._stopped(c, 143)  # SIGTERM obeyed
        if c is not None and ignored:
            time.sleep(timeout)  # Docker waits the timeout out, then kills
            with self._lock:
                self._stopped(c, 137)

    @_engine_call
    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        with self._lock:
            c = self.containers.get(container_id)
            self.calls.append(("kill", container_id, signal))
            if c is None or (signal != "SIGKILL" and self.stop_ignored(c.spec)):
                return
            self._stopped(c, 128 + int(signals.Signals[signal]))

    @_engine_call
    def remove(self, container_id: str) -> None:
        with self._lock:
            c = self.containers.pop(container_id, None)
            self.calls.append(("remove", container_id))
            if c is not None:
                self._stopped(c, 137)  # removal is forced

    @_engine_call
    def inspect(self, container_id: str) -> ContainerInfo | None:
        """By id or, as Docker allows, by name."""
        with self._lock:
            c = self.containers.get(container_id) or next(
                (c for c in self.containers.values() if c.spec.name == container_id), None)
            return None if c is None else c.info()

    @_engine_call
    def list_containers(self, labels: dict[str, str]) -> list[ContainerInfo]:
        with self._lock:
            return [c.info() for c in self.containers.values()
                    if self._matches(c.spec.labels, labels)]

    @_engine_call
    def running_ids(self, labels: dict[str, str]) -> set[str]:
        with self._lock:
            self.calls.append(("running_ids", dict(labels)))
            return {c.id for c in self.containers.values()
                    if c.status == "running" and self._matches(c.spec.labels, labels)}

    @_engine_call
    def usage(self, labels: dict[str, str]) -> list[ContainerUsage]:
        with self._lock:
            now = time.time()
            return [ContainerUsage(c.id, dict(c.spec.labels),
                                   int((self.loads.get(c.id) or FakeLoad()).reading()),
                                   (self.loads.get(c.id) or FakeLoad()).working_set, now)
                    for c in self.containers.values()
                    if c.status == "running" and self._matches(c.spec.labels, labels)]

    @_engine_call
    def logs(self, container_id: str, *, follow: bool, tail: int | None,
             since: float | None = None, timestamps: bool = False) -> Iterator[bytes]:
        with self._lock:
            kept = [(t, line) for t, line in self._get(container_id).output
                    if since is None or t >= since]
        kept = kept if tail is None else kept[-tail:] if tail else []
        if timestamps:
            yield b"".join(_dt.datetime.fromtimestamp(t, _dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ ").encode() + line for t, line in kept)
        else:
            yield b"".join(line for _, line in kept)

    @_engine_call
    def exec(self, container_id: str, command: list[str], stdin: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        with self._lock:
            c = self._get(container_id)
            if c.status != "running":
                raise ClusterError(f"exec in {container_id[:12]}: container is not running")
            info = c.info()
        return self.exec_handler(info, command)

    @_engine_call
    def exec_streams(self, container_id: str, command: list[str], *, stdin: bool,
                     tty: bool) -> FakeProcess:
        return self._process(container_id, command, stdin, tty)

    @_engine_call
    def attach_streams(self, container_id: str, *, stdin: bool, tty: bool) -> FakeProcess:
        return self._process(container_id, [], stdin, tty)

    def _process(self, container_id: str, command: list[str], stdin: bool,
                 tty: bool) -> FakeProcess:
        with self._lock:
            c = self._get(container_id)
            if c.status != "running":
                raise ClusterError(f"exec in {container_id[:12]}: container is not running")
            info = c.info()
            process = FakeProcess(command, stdin, tty)
            self.processes.append(process)
        handler = self.stream_handler or default_handler(lambda i, cmd: self.exec_handler(i, cmd))
        return process.start(handler, info)

    @_engine_call
    def put_archive(self, container_id: str, path: str, data: bytes) -> None:
        with self._lock:
            self._get(container_id).files[path] = data

    def events(self, stop: threading.Event) -> Iterator[dict[str, object]]:
        while not stop.is_set():
            try:
                yield self._events.get(timeout=0.05)
            except queue.Empty:
                continue

    def remove_all(self, volumes: bool,
                   progress: Callable[[str], None] | None = None) -> None:
        with self._lock:
            for cid in list(self.containers):
                self.remove(cid)
            self.networks.clear()
            if volumes:
                self.volumes.clear()
