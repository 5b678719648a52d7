"""``kompy port-forward``: 127.0.0.1:LOCAL relays to a pod's port through the API server.

As kubectl port-forward: POD, pod/NAME, deploy/NAME, svc/NAME... pick one pod once at the
start; several ``[LOCAL:]REMOTE`` mappings share it; a Service's port maps to its target
port (a named one resolved in the pod's containers), and a pod's port may be named too.
Every connection goes through the API's ``pods/portforward`` (kompy/client/portforward.py),
so the same command works on the built-in cluster and on any other.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from kompy.client import KubeClient, resources
from kompy.client import portforward as pf
from kompy.client.objects import Obj
from kompy.errors import ClusterError, UserError
from kompy.kubectl.commands import resolve_pod

Dial = Callable[[], pf.Connection]


def parse_ports(spec: str) -> tuple[int, str]:
    """``8080:80`` -> (8080, "80"); ``80`` -> (80, "80"); ``:80`` -> (0, "80"), a free local
    port; ``8080:http`` -> (8080, "http"), a named port."""
    local, sep, remote = spec.partition(":")
    if not sep:
        remote = local
    bad = UserError(f"invalid port mapping {spec!r}", hint="use [LOCAL:]REMOTE, e.g. 8080:80")
    if not spec.isascii() or not remote or not (local == "" or local.isdigit()) or (
            not sep and not local.isdigit()):
        raise bad
    number = int(local or 0)
    if number > 65535:
        raise UserError(f"invalid port mapping {spec!r}: local port {number} is out of range "
                        "(1-65535; 0 picks a free one)", hint=bad.hint)
    if remote.isdigit() and not 0 < int(remote) < 65536:
        raise UserError(f"invalid port mapping {spec!r}: remote port {remote} is out of range "
                        "(1-65535)", hint=bad.hint)
    return number, remote


def _container_port(pod: Obj, name: str) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == name:
                return int(cport["containerPort"])
    raise UserError(f"pod {pod['metadata']['name']} has no port named {name!r}")


def _target_port(pod: Obj, service: Obj | None, remote: str) -> int:
    if service is None:
        return int(remote) if remote.isdigit() else _container_port(pod, remote)
    for entry in (service.get("spec") or {}).get("ports") or []:
        if str(entry.get("port")) != remote and entry.get("name") != remote:
            continue
        target = entry.get("targetPort", entry.get("port"))
        if isinstance(target, int) or str(target).isdigit():
            return int(target)
        return _container_port(pod, str(target))
    raise UserError(f"the Service has no port {remote}")


def resolve(client: KubeClient, target: str, namespace: str | None) -> tuple[Obj, Obj | None]:
    """The pod to forward to, and the Service when the target names one."""
    service = None
    kind, _, name = target.partition("/")
    if name and resources.lookup(kind).kind == "Service":
        service = client.get("services", name, namespace)
    pod = resolve_pod(client, target, namespace)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise UserError(f"unable to forward port because pod is not running. Current status="
                        f"{phase}", hint="wait until it is Running: kompy get pods -w")
    return pod, service


def listen(local: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", local))
    except OverflowError as error:
        sock.close()
        raise UserError(f"cannot listen on 127.0.0.1:{local}: not a port (1-65535)") from error
    except OSError as error:
        sock.close()
        raise UserError(f"unable to listen on port {local}: {error.strerror}") from error
    sock.listen(64)
    return sock


def serve(sock: socket.socket, dial: Dial, remote: int, log: Callable[[str], None],
          stop: threading.Event | None = None) -> None:
    """Accept connections and relay each through its own pod connection until ``stop``."""
    sock.settimeout(0.5)
    local = sock.getsockname()[1]
    while stop is None or not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        conn.settimeout(None)     # not the listening socket's polling timeout
        log(f"Handling connection for {local}")
        threading.Thread(target=_handle, args=(conn, dial, local, remote, log),
                         daemon=True, name="port-forward").start()


def _handle(conn: socket.socket, dial: Dial, local: int, remote: int,
            log: Callable[[str], None]) -> None:
    try:
        upstream = dial()
    except ClusterError as error:
        log(f"error: an error occurred forwarding {local} -> {remote}: {error}")
        conn.close()
        return
    failure = pf.relay(upstream, conn)
    if failure:
        log(f"error: an error occurred forwarding {local} -> {remote}: {failure}")


def port_forward(client: KubeClient, target: str, mappings: list[str], namespace: str | None,
                 log: Callable[[str], None], stop: threading.Event | None = None) -> int:
    if not mappings:
        raise UserError("at least one port is required",
                        hint="kompy port-forward TARGET [LOCAL:]REMOTE...")
    parsed = [parse_ports(m) for m in mappings]
    pod, service = resolve(client, target, namespace)
    name, ns = str(pod["metadata"]["name"]), str(pod["metadata"].get("namespace") or "")
    ns = ns or namespace or client.namespace
    targets = [(local, _target_port(pod, service, remote)) for local, remote in parsed]
    listeners: list[tuple[socket.socket, int]] = []
    try:
        for local, port in targets:
            sock = listen(local)
            listeners.append((sock, port))
            log(f"Forwarding from 127.0.0.1:{sock.getsockname()[1]} -> {port}")
        stop = stop or threading.Event()
        threads = [threading.Thread(
            target=serve, args=(sock, _dialer(client, name, ns, port), port, log, stop),
            daemon=True, name="port-forward-accept") for sock, port in listeners]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    finally:
        if stop is not None:
            stop.set()
        for sock, _ in listeners:
            sock.close()
    return 0


def _dialer(client: KubeClient, pod: str, namespace: str, port: int) -> Dial:
    return lambda: pf.dial(client, pod, namespace, port)
