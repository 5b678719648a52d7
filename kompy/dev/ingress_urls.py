"""``kompy up``'s Ingress URLs: where each host and path of the project's Ingresses answers.

An Ingress routes by the ``Host`` header, and its host names (``shop.example``) resolve
nowhere on a developer's machine, so each URL comes with what reaches it: ``curl --resolve
HOST:PORT:ADDRESS`` (which also sends the right SNI name over HTTPS), and, once, the
``/etc/hosts`` line that makes a browser find it. Names under ``localhost`` need neither:
they are loopback names (RFC 6761, section 6.3), which curl and browsers resolve themselves.

On the built-in cluster the Ingress listens on 127.0.0.1 at the ports ``kompy cluster
start`` reports (``ingress.json``); on another cluster at the address the controller writes
in the Ingress's ``status.loadBalancer``, on 80 and 443.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kompy.client.objects import ingress_paths, load_balancer_addresses
from kompy.errors import KompyError

if TYPE_CHECKING:
    from kompy.client import KubeClient
    from kompy.dev.console import Console
    from kompy.dev.target import ClusterTarget

STANDARD_PORTS = {"http": 80, "https": 443}
LOOPBACK = "127.0.0.1"
# How long `up` waits for the controller to take an Ingress on (its status address): the
# built-in one does within a moment of the apply.
SERVED_TIMEOUT = 10.0


@dataclass(frozen=True)
class IngressRoute:
    """One host/path of an Ingress; ``host`` is "" for a rule without a host (any host)."""

    ingress: str
    service: str        # the Compose service (the Ingress's app.kubernetes.io/name)
    host: str
    path: str
    tls: bool           # the host is in one of the Ingress's spec.tls entries


@dataclass(frozen=True)
class IngressEntry:
    """Where the Ingress answers: an address and the port of each scheme (None: none)."""

    address: str
    ports: dict[str, int | None]
    ca_file: str | None = None   # the CA that signs the cluster's local certificates


def ingress_routes(objects: list[dict[str, Any]]) -> list[IngressRoute]:
    """Every host/path pair of the Ingresses among ``objects``, in their order."""
    routes: list[IngressRoute] = []
    for obj in objects:
        if obj.get("kind") != "Ingress":
            continue
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        service = str((meta.get("labels") or {}).get("app.kubernetes.io/name") or name)
        routes += [IngressRoute(name, service, host, path, tls)
                   for host, path, tls in ingress_paths(obj)]
    return routes


def example_host(host: str) -> str:
    """A name a request can use: a wildcard's ``*`` becomes ``app`` (``*.shop.example``
    matches ``app.shop.example``, one label more)."""
    return "app" + host[1:] if host.startswith("*.") else host


def resolves_to_loopback(host: str) -> bool:
    """``localhost`` and names under it are loopback names by definition (RFC 6761)."""
    return host == "localhost" or host.endswith(".localhost")


def url_of(route: IngressRoute, entry: IngressEntry) -> tuple[str, str] | None:
    """The URL of ``route`` and a command that reaches it ("" when the URL works as it is);
    None when the Ingress does not listen for the route's scheme."""
    scheme = "https" if route.tls else "http"
    port = entry.ports.get(scheme)
    if port is None:
        return None
    suffix = "" if port == STANDARD_PORTS[scheme] else f":{port}"
    if not route.host:
        return f"{scheme}://{entry.address}{suffix}{route.path}", ""
    host = example_host(route.host)
    url = f"{scheme}://{host}{suffix}{route.path}"
    if resolves_to_loopback(host) and entry.address == "127.0.0.1" and not route.tls:
        return url, ""
    ca = f"--cacert {entry.ca_file} " if route.tls and entry.ca_file else ""
    return url, f"curl {ca}--resolve {host}:{port}:{entry.address} {url}"


def url_lines(routes: list[IngressRoute], entry: IngressEntry) -> list[str]:
    """``web: http://shop.example:8080/api  (Ingress web: curl --resolve ...)`` per route,
    then the ``/etc/hosts`` line that lets a browser find the names."""
    lines: list[str] = []
    named: list[str] = []
    for route in routes:
        found = url_of(route, entry)
        if found is None:
            scheme = "https" if route.tls else "http"
            lines.append(f"{route.service}: {route.host or '*'}{route.path} (Ingress "
                         f"{route.ingress}): the cluster's Ingress does not listen for "
                         f"{scheme}")
            continue
        url, command = found
        lines.append(f"{route.service}: {url}  (Ingress {route.ingress}"
                     f"{': ' + command if command else ''})")
        host = example_host(route.host)
        if command and host not in named:
            named.append(host)
    if named:
        lines.append(f"  to open these names in a browser, add this line to /etc/hosts: "
                     f"{entry.address} {' '.join(named)}")
    return lines


def print_ingress_urls(client: KubeClient, target: ClusterTarget, namespace: str,
                       objects: list[dict[str, Any]], console: Console) -> None:
    """Say where each Ingress route of the project answers, after a warning for each Ingress
    that no controller serves (its class is not the cluster's, say)."""
    routes = ingress_routes(objects)
    if not routes:
        return
    names = list(dict.fromkeys(route.ingress for route in routes))
    addresses = _await_addresses(client, namespace, names,
                                 SERVED_TIMEOUT if target.builtin else 0.0)
    announce(client, target, namespace, {
        name: ([r for r in routes if r.ingress == name], addresses.get(name, ""))
        for name in names}, console)


def announce(client: KubeClient, target: ClusterTarget, namespace: str,
             ingresses: dict[str, tuple[list[IngressRoute], str]], console: Console) -> None:
    """For Ingresses by name -> (routes, status address or "" for none): a warning for each
    without an address, then the URL lines of the others (kompy up's and kompy dev's)."""
    for name, (_, address) in ingresses.items():
        if not address:
            console.warn(f"ingress/{name} has no address yet: "
                         f"{_why_unserved(client, namespace, name, target)}")
    served = {name: entry for name, entry in ingresses.items() if entry[1]}
    if not served:
        return
    if target.builtin:
        entry = _builtin_entry(target)
        if not any(entry.ports.values()):
            console.warn("the built-in cluster's Ingress does not listen (`kompy cluster "
                         "start --ingress-ports auto` after `kompy cluster stop` turns it on)")
            return
        for line in url_lines([r for routes, _ in served.values() for r in routes], entry):
            console.say(line)
        return
    for routes, address in served.values():   # another cluster: each at its own address
        for line in url_lines(routes, IngressEntry(address, dict(STANDARD_PORTS))):
            console.say(line)


def _builtin_entry(target: ClusterTarget) -> IngressEntry:
    from kompy.cluster.daemon.process import ingress_ports
    from kompy.cluster.daemon.state import cluster_state

    state = cluster_state(target.cluster)
    return IngressEntry(LOOPBACK, ingress_ports(state), str(state.dir / "ingress-ca.crt"))


def _await_addresses(client: KubeClient, namespace: str, names: list[str],
                     timeout: float) -> dict[str, str]:
    """The status address (ip or hostname) of each of the Ingresses ``names`` that has one,
    waiting up to ``timeout`` for all of them to get one."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, str] = {}
        for name in names:
            try:
                ingress = client.get("ingresses", name, namespace)
            except KompyError:
                continue
            address = next((a for a in load_balancer_addresses(ingress) if a), None)
            if address:
                found[name] = address
        if len(found) == len(names) or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def _why_unserved(client: KubeClient, namespace: str, name: str,
                  target: ClusterTarget) -> str:
    """The Ingress's latest warning event (IngressClassNotFound, say), else the command
    that shows it."""
    try:
        events = client.list("events", namespace,
                             field_selector=f"involvedObject.kind=Ingress,"
                                            f"involvedObject.name={name}").get("items") or []
    except KompyError:
        events = []
    warnings = sorted((e for e in events if e.get("type") == "Warning"),
                      key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    if warnings:
        return str(warnings[-1].get("message"))
    return (f"no Ingress controller has taken it on (see `kubectl describe ingress {name} "
            f"-n {namespace}`{' on ' + target.describe() if not target.builtin else ''})")
