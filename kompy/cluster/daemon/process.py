"""The built-in cluster's daemon, and the commands that start, stop and inspect it.

``start`` spawns ``python -m kompy.cluster.daemon --cluster NAME`` as a detached process
(own session, output appended to daemon.log, which a start first moves to daemon.log.1 when
it passed 5 MiB). The daemon serves the API on 127.0.0.1, then starts the runtime
(kompy.cluster.daemon.runtime: scheduler, controllers, kubelet, proxy) with a client
pointed at itself. The bearer token and port are kept in api.json across restarts, so a kubeconfig
handed out once keeps working until ``reset``.

``stop`` is like stopping a kind cluster: SIGTERM; the runtime stops the pods' containers and
the control plane exits; the objects stay in the store and ``start`` brings the pods back.
``reset`` stops, removes every Docker object labelled ``kompy.cluster=<name>`` and deletes
the state folder.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kompy.client import KubeClient, kubeconfig
from kompy.client.rest import healthy
from kompy.cluster.apiserver.tls import ensure_certificate, issue_serving
from kompy.cluster.daemon.state import ClusterState, cluster_state
from kompy.cluster.kubelet.config import load_config
from kompy.errors import EXIT_USER, ClusterError, KompyError

log = logging.getLogger(__name__)

# A start waits this long for the new daemon to answer (it gives up at once if the daemon
# exits): a daemon starts in about a second, but 11-14 s at load 20 on two cores was seen.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 90.0
# daemon.log grows by appending, one daemon after another; past this size a start moves it
# to daemon.log.1 (one generation kept) and begins a fresh one.
LOG_LIMIT = 5 * 2**20
# Tests and API-only use: serve the API without the Docker runtime.
NO_RUNTIME_ENV = "KOMPY_CLUSTER_NO_RUNTIME"
# glibc gives each thread that allocates its own malloc arena, up to 8 per core; the daemon
# runs a hundred threads (a thread per API connection), and the free space left inside the
# arenas grew for hours: 10 MiB against 2.5 MiB with two arenas after 7 minutes of the
# soak's fast mode, the Python heap the same (issue #12). Two arenas, as many threaded
# servers run; a value the user set is kept. Other C libraries ignore the variable.
MALLOC_ARENAS = "2"


# -- control (runs in the CLI's process) ------------------------------------------------------

def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError):
        # A daemon started by this very process is its child: reap it once it exits.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        # Linux: a killed daemon stays a zombie until its new parent reaps it, and a pid can
        # be reused; only a living kompy daemon counts.
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and b"kompy.cluster.daemon" in cmdline
    return True


def running(state: ClusterState) -> dict[str, Any] | None:
    """api.json of a running, answering daemon; None otherwise."""
    api = state.read_api()
    if api and _alive(api.get("pid")) and api.get("pid") == state.read_pid() and healthy(
            str(api.get("url")), api.get("ca")):
        return api
    return None


def _check_docker(state: ClusterState) -> None:
    """A Docker engine answers, and no cluster of this name from another KOMPY_HOME uses it:
    the two would share networks and volumes, and each would remove the other's containers
    as orphans."""
    if os.environ.get(NO_RUNTIME_ENV):
        return
    from kompy.cluster.kubelet.docker_backend import DockerBackend
    from kompy.engine.connection import connect
    client = connect(timeout=5)
    try:
        others = DockerBackend(state.name, str(state.dir), client).other_homes()
    finally:
        client.close()
    if others:
        other = Path(sorted(others)[0])
        raise ClusterError(
            f"cluster {state.name!r} of another KOMPY_HOME ({other}) has containers, networks "
            "or volumes on this Docker engine",
            hint=f"give this cluster another name (--cluster NAME or KOMPY_CLUSTER), or remove "
                 f"that one: KOMPY_HOME={other.parent} kompy cluster reset --cluster "
                 f"{state.name} -y")


def preflight(cluster: str | None = None) -> bool:
    """Whether the cluster runs; when it does not, the checks its start makes first (an
    engine answers, no cluster of that name from another KOMPY_HOME uses it), so that
    ``kompy up`` fails on them before a long build rather than after."""
    state = cluster_state(cluster)
    if running(state):
        return True
    _check_docker(state)
    return False


def start(cluster: str | None = None, announce: Callable[[str], None] | None = None,
          api_port: int | None = None) -> tuple[ClusterState, dict[str, Any], bool]:
    """Start the daemon unless it runs; (state, api.json, whether it was started now).
    ``announce`` is told, before the wait, that the daemon is being started. ``api_port``:
    where a daemon started now serves the API (0: any free port); None keeps the port of
    the previous start."""
    state = cluster_state(cluster)
    api = running(state)
    if api:
        return state, api, False
    _check_docker(state)
    load_config(state.kubelet_config)  # a wrong setting is the user's error, said here
    state.ensure_dir()  # and a state folder that cannot be made
    if announce is not None:
        announce(f"starting the built-in cluster {state.name!r}...")
    # Several commands may start the cluster at once (`kompy up` in two terminals): one
    # spawns the daemon, the others wait for it and use it.
    with open(state.dir / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        api = running(state)
        if api:
            return state, api, False
        return _spawn(state, api_port)


def _spawn(state: ClusterState, api_port: int | None = None
           ) -> tuple[ClusterState, dict[str, Any], bool]:
    old_pid = state.read_pid()
    if _alive(old_pid):
        # Running but slow to answer (a busy machine, or still starting): wait for it.
        deadline = time.monotonic() + START_TIMEOUT
        while _alive(old_pid) and time.monotonic() < deadline:
            api = running(state)
            if api:
                return state, api, False
            time.sleep(0.2)
        if _alive(old_pid):
            raise ClusterError(f"the daemon of cluster {state.name!r} (pid {old_pid}) does "
                               "not answer", hint=f"see {state.log_file}; "
                                                  "`kompy cluster stop` ends it")
    rotate_log(state.log_file, LOG_LIMIT)
    port_args = [] if api_port is None else ["--port", str(api_port)]
    with open(state.log_file, "ab") as log_out:
        offset = log_out.tell()  # where this daemon's lines begin
        proc = subprocess.Popen(
            [sys.executable, "-m", "kompy.cluster.daemon", "--cluster", state.name,
             *port_args],
            stdin=subprocess.DEVNULL, stdout=log_out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
            env=daemon_environment(state))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise _start_failure(state, offset, code)
        api = state.read_api()
        if api and api.get("pid") == proc.pid and healthy(str(api["url"]), api.get("ca"), 0.5):
            return state, api, True
        time.sleep(0.05)
    raise ClusterError(f"the cluster daemon did not answer within {START_TIMEOUT:.0f} s",
                       hint=f"see {state.log_file}")


def daemon_environment(state: ClusterState) -> dict[str, str]:
    """The daemon's environment: ours, its state folder's home, and bounded malloc arenas."""
    return {"MALLOC_ARENA_MAX": MALLOC_ARENAS, **os.environ,
            "KOMPY_HOME": str(state.dir.parent)}


def rotate_log(path: Path, limit: int = LOG_LIMIT) -> bool:
    """Move a log larger than ``limit`` bytes to ``<name>.1`` (replacing an older one); True
    when it did.

    Called under the start lock with no daemon running, so nobody writes the file. One
    ``rename`` replaces ``.1`` and moves the log at once: whenever a crash comes, the current
    log is either still in place or already ``.1``, never lost; the next open makes a fresh one.
    """
    try:
        if path.stat().st_size <= limit:
            return False
        os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        return False
    except OSError as error:  # a log that cannot rotate must not stop the cluster: append
        log.warning("could not rotate %s: %s", path, error)
        return False
    return True


def _start_failure(state: ClusterState, offset: int, code: int) -> ClusterError:
    """Why a daemon exited at start, from its own lines of the log (those after ``offset``;
    an older daemon's error above them is not this one's). A user error the daemon found (a
    port taken: exit 2) is said as the daemon said it, ``error: ...`` and its hint lines;
    anything else by the log's last error line, pointing at the log."""
    try:
        with open(state.log_file, "rb") as log_in:
            log_in.seek(offset)
            lines = log_in.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    said = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if code == EXIT_USER and said:
        first = said[-1]
        hints = [line.strip().removeprefix("hint: ") for line in lines[first + 1:]
                 if line.startswith("  hint: ")]
        return ClusterError(lines[first].removeprefix("error: "),
                            hint="; ".join(hints) or f"see {state.log_file}")
    errors = [line for line in lines if line.startswith(("error", "ERROR", "CRITICAL"))]
    last = (errors or lines or ["no log"])[-1]
    return ClusterError(f"the cluster daemon exited at start: {last}",
                        hint=f"full log: {state.log_file}")


def stop(cluster: str | None = None, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM the daemon and wait for it to exit; False when it was not running.

    The daemon stops its pods within their grace periods (10 s at most), but the engine then
    tears each container down one after another (about 0.1-0.2 s each on a busy machine):
    hundreds of pods outlast any fixed limit. So ``timeout`` bounds the wait *without
    progress*: it starts again each time one of the cluster's containers stops."""
    state = cluster_state(cluster)
    pid = state.read_pid()
    if not _alive(pid):
        with contextlib.suppress(FileNotFoundError):
            state.pid_file.unlink()
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    running = _running_containers(state)
    left = running()
    deadline = time.monotonic() + timeout
    checked = time.monotonic()
    while _alive(pid):
        now = time.monotonic()
        if now - checked >= 1.0:
            checked, before, left = now, left, running()
            if left is not None and before is not None and left < before:
                deadline = now + timeout
        if now > deadline:
            raise ClusterError(f"the cluster daemon (pid {pid}) did not stop: no progress "
                               f"in {timeout:.0f} s", hint=f"see {state.log_file}")
        time.sleep(0.05)
    return True


def _running_containers(state: ClusterState) -> Callable[[], int | None]:
    """How many of the cluster's containers run (None when the engine cannot say)."""
    if os.environ.get(NO_RUNTIME_ENV):
        return lambda: None
    from kompy.cluster.kubelet.docker_backend import DockerBackend
    from kompy.errors import KompyError

    try:
        backend = DockerBackend(state.name, str(state.dir))
    except KompyError:
        return lambda: None

    def count() -> int | None:
        try:
            return len(backend.running_ids({}))
        except KompyError:
            return None

    return count


def status(cluster: str | None = None) -> dict[str, Any]:
    state = cluster_state(cluster)
    api = running(state)
    out: dict[str, Any] = {"cluster": state.name, "state": str(state.dir),
                           "running": api is not None}
    if api:
        out.update(pid=api["pid"], url=api["url"], kubeconfig=str(state.kubeconfig),
                   context=state.context)
        client = client_for(state, api)
        for kind in ("nodes", "pods", "deployments", "services"):
            out[kind] = len(client.list(kind)["items"])
        if not os.environ.get(NO_RUNTIME_ENV):
            out["ingress"] = ingress_status(state, int(api["pid"]))
    return out


def ingress_status(state: ClusterState, pid: int, wait: float = 5.0) -> dict[str, Any]:
    """Where the running cluster's Ingress listens (``kompy.cluster.ingress.ports``), once
    the daemon ``pid`` has said so (a daemon just started opens its listeners within a
    moment of answering)."""
    found = _ingress_state(state, pid, wait)
    if found is None:
        return {"http": "unknown (the daemon has not opened its listeners)",
                "https": "unknown"}
    out: dict[str, Any] = {}
    for scheme, port in _ports_of(found).items():
        if port is not None:
            out[scheme] = f"{scheme}://127.0.0.1:{port}"
        else:
            out[scheme] = f"not listening ({(found.get('errors') or {}).get(scheme, 'off')})"
    return out


def ingress_ports(state: ClusterState, wait: float = 5.0) -> dict[str, int | None]:
    """The running cluster's Ingress ports on 127.0.0.1 by scheme (None: not listening)."""
    pid = state.read_pid()
    found = _ingress_state(state, pid, wait) if pid else None
    return _ports_of(found or {})


def _ingress_state(state: ClusterState, pid: int, wait: float) -> dict[str, Any] | None:
    """``ingress.json`` once written by the daemon ``pid``; None if it does not come."""
    from kompy.cluster.ingress.ports import read_state

    deadline = time.monotonic() + wait
    found = read_state(state.dir)
    while found.get("pid") != pid and time.monotonic() < deadline:
        time.sleep(0.05)
        found = read_state(state.dir)
    return found if found.get("pid") == pid else None


def _ports_of(found: dict[str, Any]) -> dict[str, int | None]:
    return {scheme: port if isinstance(port := found.get(scheme), int) else None
            for scheme in ("http", "https")}


def reset(cluster: str | None = None, progress: Callable[[str], None] | None = None) -> None:
    """Stop the cluster, remove its Docker objects (volumes too) and its state folder,
    telling ``progress`` each step."""
    say = progress or (lambda line: None)
    state = cluster_state(cluster)
    pid = state.read_pid()
    if _alive(pid):
        say(f"stopping the cluster daemon (pid {pid}) and its pods...")
    stop(state.name)
    if not os.environ.get(NO_RUNTIME_ENV):
        from kompy.cluster.daemon.runtime import cleanup
        cleanup(state.name, state.dir, volumes=True, progress=say)
    if state.dir.exists():
        say(f"removing the state folder {state.dir}...")
    shutil.rmtree(state.dir, ignore_errors=True)


def client_for(state: ClusterState, api: dict[str, Any]) -> KubeClient:
    return KubeClient.for_server(str(api["url"]), str(api["token"]), ca=api.get("ca"))


def ensure_cluster(cluster: str | None = None,
                   announce: Callable[[str], None] | None = None) -> KubeClient:
    """A client of the built-in cluster, starting it first when it is not running (and
    telling ``announce`` so)."""
    state, api, _ = start(cluster, announce)
    return client_for(state, api)


def running_client(cluster: str | None = None) -> KubeClient:
    """A client of the built-in cluster if it runs; a ClusterError saying how to start it
    otherwise. Read-only commands use this: looking must not start a cluster."""
    state = cluster_state(cluster)
    api = running(state)
    if api is None:
        flag = "" if cluster is None else f" --cluster {state.name}"
        raise ClusterError(f"the built-in cluster {state.name!r} is not running",
                           hint=f"start it with `kompy cluster start{flag}` (or `kompy up`)")
    return client_for(state, api)


def connect_client(kubeconfig_path: str | None = None, context: str | None = None,
                   cluster: str | None = None, *, start: bool = True,
                   announce: Callable[[str], None] | None = None,
                   user: str | None = None) -> KubeClient:
    """The client a command uses: a real cluster when --kubeconfig/--context name one
    (``user``: another of its users), otherwise the built-in cluster, started on demand when
    ``start`` (else it must run)."""
    if kubeconfig_path or context:
        from kompy.client.kubeconfig import Overrides
        return KubeClient.from_kubeconfig(kubeconfig_path,
                                          overrides=Overrides(context=context, user=user))
    if not start:
        return running_client(cluster)
    return ensure_cluster(cluster, announce)


def kubeconfig_text(cluster: str | None = None,
                    announce: Callable[[str], None] | None = None) -> str:
    state, _, _ = start(cluster, announce)
    return state.kubeconfig.read_text(encoding="utf-8")


# -- the daemon process ----------------------------------------------------------------------

def serve(state: ClusterState, api_port: int | None = None) -> int:
    """Run the API server and the runtime until SIGTERM/SIGINT; the API on ``api_port``
    (0: any free one), else on the previous start's port."""
    from kompy.cluster.apiserver.satokens import TokenIssuer

    state.ensure_dir()
    lock = open(state.lock_file, "w")  # noqa: SIM115 - held for the process's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.error("another daemon of cluster %r is running", state.name)
        return 1
    stop_event = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop_event.set())
    previous = state.read_api() or {}
    token = str(previous.get("token") or secrets.token_urlsafe(32))
    store = _open_store(state)
    tls = ensure_certificate(state.dir)
    service_ip = str(previous.get("service_ip") or "")
    serving = issue_serving(state.dir, tls, [service_ip] if service_ip else []) if tls else None
    port = int(previous.get("port") or 0) if api_port is None else api_port
    try:
        server = _bind(state.name, store, token, port, serving, state.token_file,
                       TokenIssuer.for_state(state.dir), tls[0] if tls else None).start()
    except BaseException:
        store.close()
        raise
    _seed(server)
    kubeconfig.write(state.kubeconfig, server.url, token, state.context,
                     tls[0].read_bytes() if tls else None)
    api_info = {"url": server.url, "port": server.port, "token": token, "pid": os.getpid(),
                "ca": server.ca, "service_ip": service_ip}
    publish(state, api_info)
    log.info("API server of cluster %r at %s", state.name, server.url)
    def on_service_ip(address: str) -> None:
        """The ``kubernetes`` Service's cluster IP: name it in the serving certificate, and
        remember it for the next start (pods keep reaching the API there)."""
        if tls is None or address == api_info["service_ip"]:
            return
        server.httpd.reload_certificate(issue_serving(state.dir, tls, [address]))
        api_info["service_ip"] = address
        state.write_api(api_info)
        log.info("API server certificate now names %s (the kubernetes Service)", address)
    runtime = _start_runtime(server, state, stop_event, on_service_ip)
    stop_event.wait()
    log.info("stopping")
    if runtime is not None:
        runtime.join(timeout=STOP_TIMEOUT - 10)
    server.stop()
    store.close()
    with contextlib.suppress(FileNotFoundError):
        state.pid_file.unlink()
    log.info("stopped")
    return 0


def _open_store(state: ClusterState) -> Any:
    """The cluster's store; a file SQLite cannot open (damaged, not a database, on a
    read-only disk) is said as the user's to mend, with the way out, not as a traceback."""
    import sqlite3

    from kompy.cluster.store.sqlite import Store
    try:
        return Store(state.store)
    except sqlite3.DatabaseError as error:
        raise ClusterError(
            f"the store of cluster {state.name!r}, {state.store}, cannot be opened: {error}",
            hint=f"if the disk is fine, the file is damaged: `kompy cluster reset --cluster "
                 f"{state.name} -y` starts the cluster empty (move {state.store.name} away "
                 "first to keep it)") from None


def publish(state: ClusterState, api_info: dict[str, Any]) -> None:
    """Tell the commands where the API is: the pid file, then api.json.

    In that order: a start returns once api.json names the new pid and the API answers, and
    the next command counts the daemon as running only when the pid file agrees. The other
    way round, a command right after a start could still read a killed daemon's pid (or
    none) there and say that the cluster was not running."""
    from kompy.fsutil import write_atomic
    write_atomic(state.pid_file, f"{api_info['pid']}\n")
    state.write_api(api_info)


def _bind(cluster: str, store: Any, token: str, port: int, tls: tuple[Path, Path] | None,
          token_file: Path | None, issuer: Any, ca: Path | None) -> Any:
    """The API server on 127.0.0.1:``port`` (0: a free one). A port that cannot be had is
    the user's error, not a reason to move: kubeconfigs handed out name this port (kept
    across restarts so that they stay valid), and a new one would leave them pointing at
    whatever holds it. kube-apiserver, and kind's published port, fail the same way."""
    from kompy.cluster.apiserver.server import ApiServer
    try:
        return ApiServer(store, token, port, tls, token_file, issuer, ca=ca)
    except OSError as error:
        if not port:
            raise
        taken = error.errno == errno.EADDRINUSE
        why = "is in use by another program" if taken else f"cannot be used: {error.strerror}"
        raise ClusterError(
            f"the API port of cluster {cluster!r}, 127.0.0.1:{port}, {why}",
            hint=(f"free it (`ss -ltnp 'sport = :{port}'` names the program), or move the "
                  f"cluster: `kompy cluster start --cluster {cluster} --api-port 0` picks a "
                  "free port (kubeconfigs handed out before then name the old one; "
                  "`kompy cluster kubeconfig` prints the new)")) from error


def _seed(server: Any) -> None:
    """Objects a cluster has before anyone talks to it (its add-ons, on a real cluster): the
    default IngressClass."""
    if os.environ.get(NO_RUNTIME_ENV):
        return
    from kompy.client.loopback import attach
    from kompy.cluster.ingress.controller import ensure_default_class
    from kompy.errors import KompyError
    try:
        ensure_default_class(attach(KubeClient.for_server(server.url, server.token,
                                                          ca=server.ca), server.router))
    except KompyError as error:  # the controller tries again once it runs
        log.warning("could not create the default IngressClass: %s", error)


def _start_runtime(server: Any, state: ClusterState, stop_event: threading.Event,
                   on_service_ip: Callable[[str], None]) -> Any:
    if os.environ.get(NO_RUNTIME_ENV):
        log.info("%s set: serving the API without the runtime", NO_RUNTIME_ENV)
        return None
    from kompy.client.loopback import attach
    from kompy.cluster.daemon.runtime import start_runtime
    client = attach(KubeClient.for_server(server.url, server.token, ca=server.ca),
                    server.router)
    runtime = start_runtime(client, state.dir, state.name, stop_event,
                            config=load_config(state.kubelet_config), api_port=server.port,
                            api_ca=Path(server.ca).read_text() if server.ca else "",
                            on_api_address=on_service_ip)
    server.set_pod_io(runtime.pod_io)
    server.set_metrics(runtime.metrics)
    return runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kompy.cluster.daemon")
    parser.add_argument("--cluster", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return serve(cluster_state(args.cluster), args.port)
    except KompyError as error:
        # The user's to fix: said as the CLI says errors, which the starting command finds
        # in the log and repeats (_start_failure).
        sys.stderr.write(f"error: {error.format()}\n")
        sys.stderr.flush()
        return error.exit_code
    except Exception:
        log.exception("the cluster daemon failed")
        return 1

