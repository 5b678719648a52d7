"""``kompy port-forward``: 127.0.0.1:LOCAL on the host relays TCP to a pod's IP:REMOTE.

The built-in cluster's pods sit on Docker bridge networks, which the host reaches directly on
Linux, so a plain TCP relay is enough (real clusters need the SPDY/WebSocket portforward
subresource, which kompy does not speak). ``svc/NAME`` picks a ready endpoint of the Service
and maps the Service port to its target port, as kubectl does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from kompy.client import KubeClient
from kompy.client.objects import Obj
from kompy.errors import UserError
from kompy.kubectl.commands import resolve_pod


def parse_ports(spec: str) -> tuple[int, int]:
    """``8080:80`` -> (8080, 80); ``80`` -> (80, 80); ``:80`` -> (0, 80), a free local port.
    Ports are 1-65535 (a local 0 picks a free one), as kubectl's parsing has them."""
    local, _, remote = spec.partition(":")
    if not remote:
        remote = local
    return _port(local or "0", spec, "local", 0), _port(remote, spec, "remote", 1)


def _port(text: str, spec: str, which: str, lowest: int) -> int:
    hint = "use LOCAL:REMOTE with ports from 1 to 65535, e.g. 8080:80 (:80 picks a free " \
           "local port)"
    if not text.isascii() or not text.isdigit():
        raise UserError(f"invalid port mapping {spec!r}: {which} port {text!r} is not a "
                        "number", hint=hint)
    port = int(text)
    if not lowest <= port <= 65535:
        raise UserError(f"invalid port mapping {spec!r}: {which} port {port} is out of range "
                        f"({lowest}-65535)", hint=hint)
    return port


def _target_port(pod: Obj, service: Obj | None, port: int) -> int:
    if service is None:
        return port
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("port") != port:
            continue
        target = entry.get("targetPort", port)
        if isinstance(target, int) or str(target).isdigit():
            return int(target)
        for container in (pod.get("spec") or {}).get("containers") or []:
            for cport in container.get("ports") or []:
                if cport.get("name") == target:
                    return int(cport["containerPort"])
        raise UserError(f"the Service's named target port {target!r} is not a port of pod "
                        f"{pod['metadata']['name']}")
    raise UserError(f"the Service has no port {port}")


def resolve(client: KubeClient, target: str, namespace: str | None, remote: int
            ) -> tuple[str, int, str]:
    """(pod IP, pod port, pod name) for POD, pod/NAME, svc/NAME or deploy/NAME."""
    service = None
    if target.split("/", 1)[0] in ("svc", "service", "services"):
        service = client.get("services", target.split("/", 1)[1], namespace)
    pod = resolve_pod(client, target, namespace)
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise UserError(f"pod {pod['metadata']['name']} has no IP yet (status "
                        f"{(pod.get('status') or {}).get('phase')})",
                        hint="wait until it is Running: kompy get pods -w")
    return str(ip), _target_port(pod, service, remote), str(pod["metadata"]["name"])


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _relay(conn: socket.socket, ip: str, port: int, log: Callable[[str], None]) -> None:
    try:
        upstream = socket.create_connection((ip, port), timeout=10)
    except OSError as error:
        log(f"error: cannot connect to {ip}:{port}: {error.strerror or error}")
        conn.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
    back.start()
    _pipe(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


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
        raise UserError(f"cannot listen on 127.0.0.1:{local}: {error.strerror}") from error
    sock.listen(64)
    return sock


def serve(sock: socket.socket, ip: str, port: int, log: Callable[[str], None],
          stop: threading.Event | None = None) -> None:
    """Accept connections and relay each in its own threads until ``stop`` is set."""
    sock.settimeout(0.5)
    while stop is None or not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        log(f"Handling connection for {sock.getsockname()[1]}")
        threading.Thread(target=_relay, args=(conn, ip, port, log), daemon=True).start()


def port_forward(client: KubeClient, target: str, mapping: str, namespace: str | None,
                 log: Callable[[str], None], stop: threading.Event | None = None) -> int:
    local, remote = parse_ports(mapping)
    ip, port, _pod = resolve(client, target, namespace, remote)
    sock = listen(local)
    log(f"Forwarding from 127.0.0.1:{sock.getsockname()[1]} -> {remote}")
    try:
        serve(sock, ip, port, log, stop)
    finally:
        sock.close()
    return 0
