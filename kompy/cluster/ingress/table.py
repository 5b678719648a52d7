"""The routing table: every Ingress of kompy's classes merged into servers (one per host) and
their routes, rebuilt as a whole whenever an Ingress, Service, Endpoints or Secret changes and
swapped in at once (requests in flight keep the table they started with).

Merging follows ingress-nginx (internal/ingress/controller/controller.go), so manifests
behave as they do on a cluster running it:

- Ingresses are taken oldest first (``creationTimestamp``; created in the same second: the
  one whose ``namespace/name`` sorts last first, as ingress-nginx's sort does). For each host
  the oldest Ingress naming it creates the host's server, and with it the server's default
  route (``/``, Prefix) to that Ingress's ``spec.defaultBackend``, if it has one.
- Every path of every Ingress is added to its host's server; a path already there with the
  same path type, from an older Ingress, stays (the newer one gets a ``PathConflict`` event).
  An explicit ``/`` Prefix path replaces the default route.
- Rules without a host, and the ``defaultBackend`` of the oldest Ingress without rules, make
  the catch-all server, which also answers hosts that no rule names. A host with a server of
  its own never falls through to the catch-all: a path it lacks gets its default route, else
  404.
- TLS for a host comes from the oldest Ingress that has a rule for it and a ``spec.tls``: the
  Secret of the ``tls`` entry listing the host, else of an entry whose certificate covers the
  host; else (or when the Secret is missing, invalid, or does not cover the host) the default
  certificate.
- ``ssl-passthrough`` on any Ingress of a host makes the host's HTTPS a raw TLS relay to the
  backend of its ``/`` route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kompy.client.objects import Obj, meta, name, namespace
from kompy.cluster.ingress.annotations import IngressOptions, parse_options
from kompy.cluster.ingress.paths import (
    IMPLEMENTATION_SPECIFIC,
    PATH_TYPES,
    PREFIX,
    REGEX,
    PathRule,
    host_matches,
    normal_host,
    wildcard_suffix,
)
from kompy.cluster.proxy.proxier import backends_for

Endpoint = tuple[str, int]
Problem = tuple[str, str]  # (event reason, message)
IngressKey = tuple[str, str]


@dataclass(frozen=True)
class UpstreamTls:
    """How to speak TLS to a backend (re-encryption): an ``ssl.SSLContext`` and the name
    sent in SNI and checked against the backend's certificate (None: neither)."""

    context: Any
    server_name: str | None


@dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port: str                       # as the Ingress wrote it: a number or a port name
    endpoints: tuple[Endpoint, ...]  # ready ones only
    problem: str = ""               # why it can never have endpoints (no such Service or port)
    tls: UpstreamTls | None = None

    @property
    def label(self) -> str:
        return f"{self.service}:{self.port}"


@dataclass(frozen=True)
class Route:
    rule: PathRule
    backend: Backend | None          # None: the default route of a host without a default
    ingress: IngressKey
    options: IngressOptions
    default: bool = False            # the host's default route (its defaultBackend)


@dataclass
class Server:
    host: str                        # "" for the catch-all server
    routes: list[Route] = field(default_factory=list)
    tls: Any = None                  # the ssl.SSLContext of its certificate; None: no TLS
    passthrough: Backend | None = None

    def find(self, path: str) -> tuple[Route | None, Any]:
        """The route for a path and its match (a regular expression's match object)."""
        for route in self.routes:
            found = route.rule.match(path)
            if found:
                return route, found
        return None, None


@dataclass(frozen=True)
class TlsLookup:
    """What a Secret named in ``spec.tls`` gives for one host."""

    context: Any = None              # None: not usable (problem says why)
    covers: bool = False             # its certificate is valid for the host
    problem: str = ""


@dataclass
class Lookups:
    """What the builder reads from the cluster (the controller's informers and certificates)."""

    service: Callable[[str, str], Obj | None]
    endpoints: Callable[[str, str], Obj | None]
    tls: Callable[[str, str, str], TlsLookup]          # (namespace, secret, host)
    auto_tls: Callable[[str], Any]                     # host -> a context from the local CA
    default_tls: Any                                   # the default certificate's context
    # (namespace, service, options) -> how to re-encrypt towards it, and a problem
    upstream_tls: Callable[[str, str, IngressOptions], tuple[UpstreamTls | None, str]]


class Table:
    def __init__(self, servers: dict[str, Server] | None = None) -> None:
        self.servers = servers or {"": Server("")}
        self.catch_all = self.servers[""]
        self._wildcards = {wildcard_suffix(h): s for h, s in self.servers.items()
                           if wildcard_suffix(h) is not None}

    def server_for(self, host: str) -> Server:
        """The server of a request's host (Host header or SNI name): the exact host, else a
        wildcard host, else the catch-all."""
        host = normal_host(host)
        exact = self.servers.get(host)
        if exact is not None and host:
            return exact
        _, dot, rest = host.partition(".")
        wild = self._wildcards.get(rest) if dot else None
        if wild is not None and host_matches(wild.host, host):
            return wild
        return self.catch_all

    def backends(self) -> set[Endpoint]:
        out: set[Endpoint] = set()
        for server in self.servers.values():
            for route in server.routes:
                if route.backend is not None:
                    out.update(route.backend.endpoints)
            if server.passthrough is not None:
                out.update(server.passthrough.endpoints)
        return out


def ingress_order(ingresses: list[Obj]) -> list[Obj]:
    """Oldest first; in the same second, ``namespace/name`` descending (ingress-nginx)."""
    by_name = sorted(ingresses, key=lambda i: f"{namespace(i)}/{name(i)}", reverse=True)
    return sorted(by_name, key=lambda i: str(meta(i).get("creationTimestamp") or ""))


class _Build:
    def __init__(self, lookups: Lookups) -> None:
        self.lookups = lookups
        self.servers: dict[str, Server] = {"": Server("")}
        self.problems: dict[IngressKey, list[Problem]] = {}
        self.options: dict[IngressKey, IngressOptions] = {}
        self.passthrough: set[str] = set()
        self._backends: dict[tuple[str, str, str, IngressOptions], Backend] = {}

    def problem(self, key: IngressKey, reason: str, message: str) -> None:
        found = self.problems.setdefault(key, [])
        if (reason, message) not in found:
            found.append((reason, message))

    # -- backends -------------------------------------------------------------------------
    def backend(self, key: IngressKey, ref: Any) -> Backend | None:
        """The Backend of an IngressBackend; None when it names no Service (a problem)."""
        if not isinstance(ref, dict):
            return None
        service = ref.get("service")
        if not isinstance(service, dict) or not service.get("name"):
            if ref.get("resource"):
                self.problem(key, "UnsupportedBackend", "resource backends are not supported; "
                             "only Services")
            return None
        port_ref = service.get("port") or {}
        port_text = str(port_ref.get("number") or port_ref.get("name") or "")
        options = self.options[key]
        cache_key = (key[0], str(service["name"]), port_text, options)
        if cache_key not in self._backends:
            self._backends[cache_key] = self._resolve(key, str(service["name"]), port_ref,
                                                      port_text, options)
        found = self._backends[cache_key]
        if found.problem:
            reason = "ServiceNotFound" if "not found" in found.problem else "ServicePortNotFound"
            self.problem(key, reason, found.problem)
        return found

    def _resolve(self, key: IngressKey, svc_name: str, port_ref: dict[str, Any], port_text: str,
                 options: IngressOptions) -> Backend:
        ns = key[0]
        svc = self.lookups.service(ns, svc_name)
        if svc is None:
            return Backend(ns, svc_name, port_text, (), f'service "{ns}/{svc_name}" not found')
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return Backend(ns, svc_name, port_text, (),
                           f'service "{ns}/{svc_name}" is an ExternalName Service, which '
                           "kompy's Ingress cannot route to")
        ports = [p for p in spec.get("ports") or [] if (p.get("protocol") or "TCP") == "TCP"]
        if port_ref.get("number"):
            port = next((p for p in ports if p.get("port") == port_ref["number"]), None)
        else:
            port = next((p for p in ports if p.get("name") == port_ref.get("name")), None)
        if port is None:
            what = (f"port {port_text}" if port_ref.get("number") else
                    f'a port named "{port_text}"')
            return Backend(ns, svc_name, port_text, (),
                           f'service "{ns}/{svc_name}" has no {what}')
        endpoints = tuple(backends_for(self.lookups.endpoints(ns, svc_name), port))
        tls = None
        if options.backend_protocol == "HTTPS":
            tls, problem = self.lookups.upstream_tls(ns, svc_name, options)
            if problem:
                self.problem(key, "BackendTLSInvalid", problem)
        return Backend(ns, svc_name, port_text, endpoints, tls=tls)

    # -- the passes, as ingress-nginx's createServers and getBackendServers --------------
    def servers_pass(self, ingress: Obj) -> None:
        key = (namespace(ingress), name(ingress))
        spec = ingress.get("spec") or {}
        options = self.options[key]
        default = self.backend(key, spec.get("defaultBackend")) if spec.get(
            "defaultBackend") else None
        root = PathRule("/", PREFIX)
        catch_all = self.servers[""]
        rules = [r for r in spec.get("rules") or [] if isinstance(r, dict)]
        if default is not None and not rules and not catch_all.routes:
            catch_all.routes.append(Route(root, default, key, options, default=True))
        for rule in rules:
            host = normal_host(str(rule.get("host") or ""))
            if host in self.servers:
                continue
            self.servers[host] = Server(host, [Route(root, default, key, options, default=True)])

    def tls_pass(self, ingress: Obj) -> None:
        key = (namespace(ingress), name(ingress))
        spec = ingress.get("spec") or {}
        options = self.options[key]
        tls_entries = [t for t in spec.get("tls") or [] if isinstance(t, dict)]
        for rule in spec.get("rules") or []:
            host = normal_host(str((rule or {}).get("host") or ""))
            server = self.servers[host]
            if options.ssl_passthrough:
                self.passthrough.add(host)
            if not host or server.tls is not None or not tls_entries:
                continue
            server.tls = self._certificate(key, host, tls_entries, options)

    def _certificate(self, key: IngressKey, host: str, entries: list[Obj],
                     options: IngressOptions) -> Any:
        ns = key[0]
        secret = next((str(t.get("secretName") or "") for t in entries
                       if host in [normal_host(str(h)) for h in t.get("hosts") or []]), None)
        if secret is None:  # no entry lists the host: one whose certificate covers it
            for entry in entries:
                if entry.get("secretName"):
                    found = self.lookups.tls(ns, str(entry["secretName"]), host)
                    if found.context is not None and found.covers:
                        return found.context
            secret = ""
        default = self.lookups.auto_tls(host) if options.auto_tls else self.lookups.default_tls
        if not secret:
            return default
        found = self.lookups.tls(ns, secret, host)
        if found.context is None:
            if not options.auto_tls:
                self.problem(key, "TLSSecretInvalid", f"{found.problem}; host {host} uses the "
                             "default certificate")
            return default
        if not found.covers:
            self.problem(key, "TLSHostMismatch", f'the certificate of secret "{ns}/{secret}" is '
                         f"not valid for host {host}; it uses the default certificate")
            return self.lookups.default_tls
        if found.problem:  # usable, but worth a word (it expired)
            self.problem(key, "TLSCertificateExpired", found.problem)
        return found.context

    def routes_pass(self, ingress: Obj) -> None:
        key = (namespace(ingress), name(ingress))
        options = self.options[key]
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            host = normal_host(str((rule or {}).get("host") or ""))
            server = self.servers.get(host, self.servers[""])
            http = (rule or {}).get("http")
            for item in (http or {}).get("paths") or []:
                self._add_path(key, server, item, options)

    def _add_path(self, key: IngressKey, server: Server, item: Any,
                  options: IngressOptions) -> None:
        if not isinstance(item, dict):
            return
        kind = str(item.get("pathType") or IMPLEMENTATION_SPECIFIC)
        if kind not in PATH_TYPES:
            self.problem(key, "InvalidPath", f"path {item.get('path')!r}: unknown pathType "
                         f"{kind!r}")
            return
        try:
            rule = PathRule.make(str(item.get("path") or "/"), kind, options.regex)
        except re.error as error:
            self.problem(key, "InvalidPath", f"path {item.get('path')!r} is not a valid "
                         f"regular expression: {error}")
            return
        backend = self.backend(key, item.get("backend"))
        if backend is None:
            return
        route = Route(rule, backend, key, options)
        for i, existing in enumerate(server.routes):
            if (existing.rule.path, existing.rule.kind) != (rule.path, rule.kind):
                continue
            if existing.default:
                server.routes[i] = route
            elif existing.ingress != key:
                where = server.host or "(any host)"
                self.problem(key, "PathConflict",
                             f"path {rule.path} ({rule.kind}) of host {where} is already "
                             f"served by the older Ingress {'/'.join(existing.ingress)}; "
                             "the older one wins")
            return
        server.routes.append(route)

    def finish(self) -> Table:
        for server in self.servers.values():
            server.routes.sort(key=lambda r: r.rule.priority, reverse=True)
        for host in sorted(self.passthrough):
            server = self.servers[host]
            # The backend of path "/": an Ingress's own "/" path, else the host's default
            # route (ingress-nginx passes the host's root location through).
            roots = [r for r in server.routes if r.rule.path == "/" and r.backend is not None
                     and r.rule.kind != REGEX]
            root = next((r for r in roots if not r.default), roots[0] if roots else None)
            if root is not None:
                server.passthrough = root.backend
                continue
            for key in sorted({r.ingress for r in server.routes}):
                self.problem(key, "PassthroughIgnored", f"ssl-passthrough for host "
                             f"{host or '(any host)'} needs a backend for path / (or a "
                             "defaultBackend); its HTTPS is terminated instead")
        return Table(self.servers)


def build(ingresses: list[Obj], lookups: Lookups
          ) -> tuple[Table, dict[IngressKey, list[Problem]]]:
    """The table for kompy's Ingresses, and the problems found per Ingress."""
    work = _Build(lookups)
    ordered = ingress_order(ingresses)
    for ingress in ordered:
        key = (namespace(ingress), name(ingress))
        work.options[key], problems = parse_options(meta(ingress).get("annotations"), key[0])
        for message in problems:
            work.problem(key, "InvalidAnnotation", message)
    for step in (work.servers_pass, work.tls_pass, work.routes_pass):
        for ingress in ordered:
            step(ingress)
    return work.finish(), work.problems
