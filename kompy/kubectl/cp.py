"""``kompy cp``: files between this machine and a pod's container, as ``kubectl cp``.

Tar over the API's exec, as kubectl does (so the image needs ``tar``):

- ``kompy cp LOCAL [NS/]POD:PATH`` streams a tar of LOCAL into ``tar -xmf - -C DIR`` in the
  container; when PATH is a folder there, LOCAL goes inside it (``test -d`` first, as
  kubectl's checkDestinationIsDir).
- ``kompy cp [NS/]POD:PATH LOCAL`` runs ``tar cf - PATH`` there and unpacks here, PATH's
  content mapped onto LOCAL. What could leave LOCAL (an absolute or ``..`` name, a link) is
  skipped with a warning, as kubectl skips links (CVE-2019-1002101 and its sequels); files
  are written through a temporary file and a rename.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

from kompy.client import KubeClient, remotecommand, websocket
from kompy.errors import ClusterError, UserError
from kompy.fsutil import write_atomic
from kompy.kubectl.commands import resolve_pod

Out = Callable[[str], None]


def parse(spec: str) -> tuple[str | None, str | None, str]:
    """``ns/pod:/path`` -> (ns, pod, path); a local path -> (None, None, path)."""
    head, sep, path = spec.partition(":")
    if not sep or not head or os.path.exists(spec):
        return None, None, spec
    namespace, _, pod = head.rpartition("/")
    return namespace or None, pod, path


def cp(client: KubeClient, source: str, dest: str, namespace: str | None,
       container: str | None, warn: Out) -> int:
    src_ns, src_pod, src_path = parse(source)
    dst_ns, dst_pod, dst_path = parse(dest)
    if (src_pod is None) == (dst_pod is None):
        raise UserError("one of the two paths must be a pod's ([NAMESPACE/]POD:PATH) and the "
                        "other a local one", hint="kompy cp ./file POD:/tmp/file")
    if dst_pod is not None:
        pod = resolve_pod(client, dst_pod, dst_ns or namespace)
        to_pod(client, pod["metadata"]["name"], pod["metadata"]["namespace"], container,
               Path(src_path), dst_path)
    else:
        assert src_pod is not None
        pod = resolve_pod(client, src_pod, src_ns or namespace)
        from_pod(client, pod["metadata"]["name"], pod["metadata"]["namespace"], container,
                 src_path, Path(dst_path), warn)
    return 0


def _run(client: KubeClient, pod: str, namespace: str, container: str | None,
         command: list[str], feed: Callable[[remotecommand.RemoteProcess], None] | None,
         take: Callable[[bytes], None]) -> tuple[int, str]:
    process = remotecommand.open_exec(client, pod, namespace, command, container=container,
                                      stdin=feed is not None)
    failed: list[BaseException] = []
    if feed is not None:
        def pump() -> None:
            try:
                feed(process)
                process.close_stdin()
            except (OSError, websocket.WebSocketError, ClusterError) as error:
                failed.append(error)
        threading.Thread(target=pump, daemon=True, name="cp-stdin").start()
    errors = bytearray()
    while (item := process.read()) is not None:
        if item[0] == remotecommand.STDOUT:
            take(item[1])
        else:
            errors += item[1]
    code = process.wait()
    if failed and not code:
        raise ClusterError(f"copying failed: {failed[0]}")
    return code, errors.decode(errors="replace").strip()


def to_pod(client: KubeClient, pod: str, namespace: str, container: str | None,
           source: Path, dest: str) -> None:
    if not source.exists():
        raise UserError(f"{source} doesn't exist in local filesystem")
    if not dest:
        raise UserError("the remote path must not be empty")
    code, _ = _run(client, pod, namespace, container, ["test", "-d", dest], None, lambda _: None)
    if code == 0:
        dest = posixpath.join(dest, source.name)

    class Sink(io.RawIOBase):
        def __init__(self, process: remotecommand.RemoteProcess) -> None:
            self.process = process

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.process.write(bytes(data))
            return len(data)

    def feed(process: remotecommand.RemoteProcess) -> None:
        with tarfile.open(fileobj=Sink(process), mode="w|") as tar:
            tar.add(str(source), arcname=posixpath.basename(dest.rstrip("/")) or ".")
    command = ["tar", "-xmf", "-"]
    folder = posixpath.dirname(dest.rstrip("/"))
    if folder:
        command += ["-C", folder]
    code, errors = _run(client, pod, namespace, container, command, feed, lambda _: None)
    if code:
        raise ClusterError(f"copying into {pod} failed (exit code {code})"
                           + (f": {errors.splitlines()[-1]}" if errors else ""),
                           hint="the container needs tar")


class _Pipe(io.RawIOBase):
    """The remote tar's output as a file for tarfile's stream mode."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.cond = threading.Condition()
        self.ended = False
        self.buffer = b""

    def put(self, data: bytes | None) -> None:
        with self.cond:
            if data is None:
                self.ended = True
            else:
                self.chunks.append(data)
            self.cond.notify_all()

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self.buffer:
            with self.cond:
                while not self.chunks and not self.ended:
                    self.cond.wait()
                if not self.chunks:
                    return 0
                self.buffer = self.chunks.pop(0)
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


def from_pod(client: KubeClient, pod: str, namespace: str, container: str | None,
             source: str, dest: Path, warn: Out) -> None:
    pipe = _Pipe()
    failure: list[BaseException] = []
    unpacker = threading.Thread(target=_unpack, args=(pipe, source, dest, warn, failure),
                                daemon=True, name="cp-unpack")
    unpacker.start()
    try:
        code, errors = _run(client, pod, namespace, container, ["tar", "cf", "-", source],
                            None, pipe.put)
    finally:
        pipe.put(None)
        unpacker.join()
    if code:
        lines = [line for line in errors.splitlines() if "removing leading" not in line]
        raise ClusterError(f"copying from {pod} failed (exit code {code})"
                           + (f": {lines[0]}" if lines else ""),
                           hint="does the path exist? the container needs tar")
    if failure:
        raise ClusterError(f"unpacking {source} failed: {failure[0]}")


def _unpack(pipe: _Pipe, source: str, dest: Path, warn: Out,
            failure: list[BaseException]) -> None:
    prefix = posixpath.normpath(source.lstrip("/"))
    try:
        with tarfile.open(fileobj=io.BufferedReader(pipe), mode="r|") as tar:
            for member in tar:
                name = posixpath.normpath(member.name.lstrip("/"))
                if name != prefix and not name.startswith(prefix + "/"):
                    warn(f"warning: skipping {member.name}: outside {source}")
                    continue
                relative = name[len(prefix):].lstrip("/")
                target = dest / relative if relative else dest
                if ".." in Path(relative).parts or not (member.isfile() or member.isdir()):
                    warn(f"warning: skipping {member.name}: "
                         f"{'a link' if member.issym() or member.islnk() else 'not a file'}")
                    continue
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                data = tar.extractfile(member)
                assert data is not None
                write_atomic(target, data.read(), member.mode & 0o777)
    except (tarfile.TarError, OSError) as error:
        failure.append(error)
        while pipe.readinto(bytearray(65536)):
            pass    # drain, so the remote tar is not held up
