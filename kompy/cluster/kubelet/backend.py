"""The seam between the kubelet and a container engine: value types and one small Protocol.

The real implementation is :mod:`kompy.cluster.kubelet.docker_backend`, on the Docker engine;
:mod:`kompy.cluster.kubelet.fake` is an in-memory one for tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kompy.errors import ClusterError

T = TypeVar("T")
R = TypeVar("R")

# What :meth:`ContainerBackend.events` yields after its stream was lost and is back: the
# events in between are lost, so everything must be looked at again.
RESYNC_EVENT = "kompy-resync"

# Labels every Docker object kompy creates carries: listings, `kompy down` and `kompy cluster
# reset` filter on them, so objects kompy did not create are never touched (docs/cluster.md).
LABEL_CLUSTER = "kompy.cluster"
# The cluster's state folder: two KOMPY_HOMEs may each have a cluster of the same name.
LABEL_HOME = "kompy.home"
LABEL_NAMESPACE = "kompy.namespace"
LABEL_OWNER = "kompy.owner"
LABEL_POD = "kompy.pod"
LABEL_POD_UID = "kompy.pod-uid"
LABEL_CONTAINER = "kompy.container"
LABEL_ROLE = "kompy.role"  # sandbox | init | app
LABEL_ATTEMPT = "kompy.attempt"
LABEL_SERVICE = "kompy.service"
LABEL_NODE = "kompy.node"  # the node a pod's containers (and the node's own container) are of


class ImagePullError(ClusterError):
    """An image is neither present locally nor pullable."""


@dataclass(frozen=True)
class Mount:
    """A bind (source is a host path), a named volume, or a private tmpfs."""

    type: str  # "bind" | "volume" | "tmpfs"
    source: str
    target: str
    read_only: bool = False


@dataclass
class ContainerSpec:
    name: str
    image: str
    labels: dict[str, str]
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    group_add: list[str] = field(default_factory=list)
    hostname: str | None = None
    network: str | None = None  # a network name to attach (the sandbox)
    network_mode: str | None = None  # "container:<id>" (app containers)
    mounts: list[Mount] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    read_only: bool = False
    no_new_privileges: bool = False
    nano_cpus: int | None = None
    mem_limit: int | None = None
    init: bool = False
    tty: bool = False
    stdin_open: bool = False
    # Docker's json-file log, rotated at this many bytes, this many files kept (the kubelet's
    # containerLogMaxSize and containerLogMaxFiles); None: the engine's default logging.
    log_max_size: int | None = None
    log_max_files: int | None = None


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    labels: dict[str, str]
    status: str  # created | running | exited | dead | paused | restarting | removing
    exit_code: int
    started_at: str
    finished_at: str
    oom_killed: bool
    image: str
    image_id: str
    ip: str
    error: str = ""
    created_at: str = ""

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    @property
    def attempt(self) -> int:
        return int(self.labels.get(LABEL_ATTEMPT, "0") or 0)


class ProcessStreams(Protocol):
    """The standard streams of a process in a container, while it runs: a command started by
    ``exec_streams`` or the container's own main process (``attach_streams``). ``read`` and
    ``write`` may be called from different threads."""

    def read(self) -> tuple[int, bytes] | None:
        """The next output: (1 for stdout or 2 for stderr, bytes); None once the output ends
        (the process exited or closed both)."""
        ...

    def write(self, data: bytes) -> None:
        """Bytes for the process's standard input (when it was opened)."""
        ...

    def close_stdin(self) -> None:
        """End of standard input: the process reads EOF."""
        ...

    def resize(self, width: int, height: int) -> None:
        """The terminal's new size (a process started with a TTY)."""
        ...

    def wait(self) -> int | None:
        """After the output ended: the exit code of an exec'd command; None for attach."""
        ...

    def close(self) -> None:
        """Let go of the process's streams (an exec'd process may go on running)."""
        ...


@dataclass(frozen=True)
class ContainerUsage:
    """One reading of a running container's resource use, as cAdvisor takes it for the
    kubelet's summary API: cumulative CPU time, and the memory working set (usage minus
    inactive file cache: what the kernel cannot reclaim easily, what metrics-server and
    the OOM killer look at)."""

    container_id: str
    labels: dict[str, str]
    cpu_ns: int          # CPU time used since the container started, in nanoseconds
    working_set: int     # bytes
    at: float            # wall-clock time of the reading (time.time())


@dataclass(frozen=True)
class NetworkInfo:
    id: str
    name: str
    subnet: str
    gateway: str
    labels: dict[str, str]


@dataclass(frozen=True)
class ImageInfo:
    id: str
    repo_digests: tuple[str, ...]
    user: str = ""  # the image's USER: "" (root), "1000", "1000:1000", "app"...
    stop_signal: str = ""  # the image's STOPSIGNAL ("" when none: SIGTERM)


class ContainerBackend(Protocol):
    cluster: str

    def labels(self, namespace: str, owner: str, **extra: str) -> dict[str, str]: ...
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]: ...
    def submit(self, fn: Callable[..., Any], *args: Any) -> None: ...
    def ensure_network(self, name: str, labels: dict[str, str], subnet: str | None = None,
                       gateway: str | None = None) -> NetworkInfo: ...
    def list_networks(self, labels: dict[str, str]) -> list[NetworkInfo]: ...
    def used_subnets(self) -> list[str]: ...
    def remove_network(self, name: str) -> None: ...
    def ensure_volume(self, name: str, labels: dict[str, str],
                      tmpfs_size: str | None = None, mode: int | None = None) -> str: ...
    def volume_mountpoint(self, name: str) -> str: ...
    def remove_volume(self, name: str) -> None: ...
    def list_volumes(self, labels: dict[str, str]) -> list[str]: ...
    def image(self, ref: str) -> ImageInfo | None: ...
    def pull(self, ref: str, auth: Mapping[str, str] | None = None) -> ImageInfo: ...
    def create(self, spec: ContainerSpec) -> str: ...
    def start(self, container_id: str) -> None: ...
    def stop(self, container_id: str, timeout: int) -> None: ...
    def kill(self, container_id: str, signal: str = "SIGKILL") -> None: ...
    def remove(self, container_id: str) -> None: ...
    def inspect(self, container_id: str) -> ContainerInfo | None:
        """The container of this id or name; None when there is none."""
    def list_containers(self, labels: dict[str, str]) -> list[ContainerInfo]: ...
    def running_ids(self, labels: dict[str, str]) -> set[str]:
        """The ids of the running containers with these labels: one cheap listing (no
        inspect of each), for waiting on hundreds of containers at once."""
    def usage(self, labels: dict[str, str]) -> list[ContainerUsage]:
        """A reading of every *running* container of the cluster with these labels."""
    def logs(self, container_id: str, *, follow: bool, tail: int | None,
             since: float | None = None, timestamps: bool = False) -> Iterator[bytes]: ...
    def exec(self, container_id: str, command: list[str], stdin: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]: ...
    def exec_streams(self, container_id: str, command: list[str], *, stdin: bool,
                     tty: bool) -> ProcessStreams: ...
    def attach_streams(self, container_id: str, *, stdin: bool, tty: bool
                       ) -> ProcessStreams: ...
    def put_archive(self, container_id: str, path: str, data: bytes) -> None: ...
    def events(self, stop: threading.Event) -> Iterator[dict[str, object]]:
        """Container deaths as Docker reports them (``status`` ``die``/``oom``), until
        ``stop``; after a lost connection, once the engine answers again, one event with
        ``status`` :data:`RESYNC_EVENT`."""
    def remove_all(self, volumes: bool,
                   progress: Callable[[str], None] | None = None) -> None: ...
