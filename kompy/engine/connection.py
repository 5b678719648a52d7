"""Connecting to the Docker engine, and turning the docker SDK's exceptions into kompy's.

Every Docker call of kompy runs through :func:`call` (or :func:`stream` for a streamed
answer), so an engine failure always reaches the user as one :class:`EngineError` line
naming what was being done, and an object that is gone as :class:`NoSuchObject`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias, TypeVar

import docker
import docker.errors
import docker.types

from kompy.errors import ClusterError

T = TypeVar("T")

# The docker SDK's client (its ``.api`` is the low-level API client kompy calls).
Engine: TypeAlias = docker.DockerClient


class EngineError(ClusterError):
    """A Docker call failed. ``status`` is the engine's HTTP status when it answered (409 is
    a conflict such as "removal already in progress"), ``reason`` its first line."""

    def __init__(self, message: str, *, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class NoSuchObject(EngineError):
    """The Docker object is gone (removed concurrently, or never existed)."""


def connect(timeout: int = 60) -> Engine:
    """A client of the local engine, or one clear line saying that none answers."""
    try:
        client: Engine = docker.from_env(timeout=timeout, max_pool_size=32)
        client.ping()
    except docker.errors.DockerException as error:
        raise ClusterError(
            f"no Docker engine answers: {error_reason(error)}",
            hint="start the Docker engine (for example `sudo dockerd &`) or set DOCKER_HOST",
        ) from error
    return client


_shared: dict[int, Engine] = {}
_shared_lock = threading.Lock()


def shared(timeout: int = 60) -> Engine:
    """The process's client of the local engine for calls that take at most ``timeout``
    seconds, made at the first call: a new client costs two round trips (the API version
    and a ping) and a new connection, more than the inspect or tag it is made for, and
    under load each costs tens of milliseconds that the dev loop's rebuild waits for. The
    SDK's client keeps a pool of connections and serves concurrent threads."""
    with _shared_lock:
        client = _shared.get(timeout)
        if client is None:
            client = _shared[timeout] = connect(timeout)
        return client


def error_reason(error: BaseException) -> str:
    """The first line of what the engine (or the SDK) said."""
    if isinstance(error, docker.errors.APIError) and error.explanation:
        return str(error.explanation).strip().splitlines()[0]
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def translate(what: str, error: docker.errors.DockerException) -> EngineError:
    reason = error_reason(error)
    status = error.status_code if isinstance(error, docker.errors.APIError) else None
    if isinstance(error, docker.errors.NotFound):
        return NoSuchObject(f"{what}: not found: {reason}", reason=reason, status=404)
    return EngineError(f"{what}: {reason}", reason=reason, status=status)


def connection_reason(error: BaseException) -> str:
    """Why a connection to the engine failed, in a few words ("Connection refused"): the
    innermost OS error that the HTTP layers wrapped, else the first line of the error."""
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        stack.extend(a for a in current.args if isinstance(a, BaseException))
        for nested in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(nested, BaseException):
                stack.append(nested)
    first = error.args[0] if error.args else None
    text = (first if isinstance(first, str) else str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def lost(what: str, error: BaseException) -> EngineError:
    reason = connection_reason(error)
    return EngineError(f"{what}: Docker engine connection failed: {reason}", reason=reason)


def call(what: str, fn: Callable[[], T]) -> T:
    """``fn()``, with the SDK's exceptions (and a lost connection) as :class:`EngineError`."""
    try:
        return fn()
    except docker.errors.DockerException as error:
        raise translate(what, error) from error
    except (OSError, ConnectionError) as error:
        raise lost(what, error) from error


def stream(what: str, items: Iterator[T]) -> Iterator[T]:
    """The items of a streamed answer (logs, events), with failures as in :func:`call`."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except docker.errors.DockerException as error:
            raise translate(what, error) from error
        except Exception as error:  # noqa: BLE001 - OSError, or urllib3's ProtocolError
            raise lost(what, error) from error
        yield item


def mount(target: str, source: str | None, kind: str, read_only: bool,
          no_copy: bool = False) -> Any:
    """A mount for ``create_host_config``: ``kind`` is bind, volume or tmpfs. ``no_copy``
    (volumes only): Docker does not fill an empty volume with the image's files there."""
    return docker.types.Mount(target, source, type=kind, read_only=read_only,
                              no_copy=no_copy and kind == "volume")


def json_file_log(max_size: int, max_files: int) -> Any:
    """A ``log_config`` for ``create_host_config``: Docker's json-file driver, rotated at
    ``max_size`` bytes with ``max_files`` files kept (what ``docker logs`` reads back)."""
    return docker.types.LogConfig(type="json-file", config={
        "max-size": str(max_size), "max-file": str(max_files)})


def ipam(subnet: str, gateway: str | None) -> Any:
    """An IPAM configuration for ``create_network`` with one address pool."""
    pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway)
    return docker.types.IPAMConfig(pool_configs=[pool])
