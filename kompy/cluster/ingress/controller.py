"""The Ingress controller: kompy's IngressClass, the routing table, status and events.

At start it listens on 127.0.0.1 (:mod:`kompy.cluster.ingress.ports`) and creates the
IngressClass ``kompy`` (the default class) unless it exists. Any change of an Ingress,
IngressClass, Service, Endpoints or Secret queues one rebuild of the whole routing table
(:mod:`kompy.cluster.ingress.table`), which then:

- replaces the table the listeners route with (requests in flight finish on the old one),
  and closes idle backend connections to pods that are no longer ready;
- sets ``status.loadBalancer.ingress`` to ``[{ip: 127.0.0.1}]`` on every Ingress it serves
  (and removes it from those it no longer serves);
- posts events: ``Sync`` when it takes an Ingress on, and a Warning for each new problem
  (a missing Service, port or Secret, a conflicting path, a bad annotation...).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from kompy.client import ApiError, Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace, terminating, uid
from kompy.cluster.controllers.base import Controller
from kompy.cluster.ingress import classes, ports
from kompy.cluster.ingress.certstore import CertStore
from kompy.cluster.ingress.server import Front, Listener
from kompy.cluster.ingress.table import Backend, Endpoint, Lookups, Problem, Table, build
from kompy.cluster.ingress.upstream import Dialer, Pool

log = logging.getLogger(__name__)

TABLE = "table"
CLASS = "ingressclass"
LOAD_BALANCER = [{"ip": ports.ADDRESS}]


class IngressController(Controller):
    name = "ingress"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 state_dir: Path, setting: ports.PortSetting | None = None) -> None:
        super().__init__(client, informers, recorder, workers=2)
        self.state_dir = state_dir
        self.setting = setting or ports.current_setting(state_dir)
        self.ingresses = informers["ingresses"]
        self.classes = informers["ingressclasses"]
        self.services = informers["services"]
        self.endpoints = informers["endpoints"]
        self.secrets = informers["secrets"]
        for informer in (self.ingresses, self.classes, self.services, self.endpoints,
                         self.secrets):
            informer.add_handler(lambda _obj, _deleted: self.queue.add(TABLE))
        self.pool = Pool()
        self.dialer = Dialer(self.pool, self._current_endpoints)
        self.certs = CertStore(state_dir, self.secrets.get)
        self.front = Front(self, self.certs.default)
        self._table = Table()
        self.listeners: dict[str, Listener] = {}
        self.listen_errors: dict[str, str] = {}
        self._reported: dict[str, set[Problem]] = {}   # by Ingress uid
        self._taken: set[str] = set()                   # uids of Ingresses served
        self._unserved: set[str] = set()                # uids told their class is missing

    # -- what the listeners ask ---------------------------------------------------------
    def table(self) -> Table:
        return self._table

    def https_port(self) -> int | None:
        listener = self.listeners.get("https")
        return listener.port if listener is not None else None

    def _current_endpoints(self, backend: Backend) -> tuple[Endpoint, ...]:
        for server in self._table.servers.values():
            for route in server.routes:
                found = route.backend
                if found is not None and (found.namespace, found.service, found.port) == (
                        backend.namespace, backend.service, backend.port):
                    return found.endpoints
        return ()

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._listen()
        self.queue.add(CLASS)
        self.queue.add(TABLE)
        super().start()

    def _listen(self) -> None:
        previous = ports.read_state(self.state_dir)
        sockets, self.listen_errors = ports.open_listeners(self.setting, previous)
        handlers = {"http": self.front.http, "https": self.front.https}
        for scheme, sock in sockets.items():
            self.listeners[scheme] = Listener(sock, scheme, handlers[scheme])
        got = {scheme: listener.port for scheme, listener in self.listeners.items()}
        for scheme, error in self.listen_errors.items():
            if error != ports.OFF:
                log.warning("ingress: no %s listener: %s", scheme, error)
        log.info("ingress: %s", ", ".join(f"{s}://{ports.ADDRESS}:{p}" for s, p in got.items())
                 or "not listening")
        ports.write_state(self.state_dir, http=got.get("http"), https=got.get("https"),
                          errors=self.listen_errors, pid=os.getpid())

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        for listener in self.listeners.values():
            listener.close()
        self.pool.close()

    # -- syncing --------------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        if key == CLASS:
            self._ensure_class()
        elif key == TABLE:
            self._rebuild()

    def _ensure_class(self) -> None:
        created = ensure_default_class(self.client)
        if created is not None:
            self.classes.upsert_local(created)

    def _rebuild(self) -> None:
        class_list = self.classes.list()
        everything = self.ingresses.list()
        served = [i for i in everything if not terminating(i) and classes.ours(i, class_list)]
        lookups = Lookups(service=self.services.get, endpoints=self.endpoints.get,
                          tls=self.certs.tls, auto_tls=self.certs.auto_tls,
                          default_tls=self.certs.default, upstream_tls=self.certs.upstream_tls)
        table, problems = build(served, lookups)
        self._table = table
        self.pool.retain(table.backends())
        self.certs.forget({(namespace(i), str(t.get("secretName")))
                           for i in served for t in (i.get("spec") or {}).get("tls") or []
                           if isinstance(t, dict) and t.get("secretName")})
        served_uids = {uid(i) for i in served}
        for ingress in served:
            self._report(ingress, problems.get((namespace(ingress), name(ingress)), []))
        for ingress in everything:
            if uid(ingress) not in served_uids and not terminating(ingress):
                self._not_served(ingress, class_list)
        self._reported = {k: v for k, v in self._reported.items() if k in served_uids}
        self._taken &= served_uids
        self._unserved &= {uid(i) for i in everything}
        for ingress in everything:
            if not terminating(ingress):
                self._write_status(ingress, uid(ingress) in served_uids)

    def _report(self, ingress: Obj, problems: list[Problem]) -> None:
        key = uid(ingress)
        if key not in self._taken:
            self._taken.add(key)
            self.recorder.normal(ingress, "Sync", "Scheduled for sync")
        seen = self._reported.setdefault(key, set())
        for reason, message in problems:
            if (reason, message) not in seen:
                self.recorder.warning(ingress, reason, message)
        self._reported[key] = set(problems)

    def _not_served(self, ingress: Obj, class_list: list[Obj]) -> None:
        """An Ingress of a class no IngressClass defines would be served by nobody: say so
        once, with the way to have kompy serve it."""
        wanted = classes.class_of(ingress)
        if wanted is None or any(name(c) == wanted for c in class_list):
            return
        key = uid(ingress)
        if key in self._unserved:
            return
        self._unserved.add(key)
        self.recorder.warning(
            ingress, "IngressClassNotFound",
            f'ingress class "{wanted}" does not exist, so no controller serves this Ingress; '
            f'kompy serves class "{classes.CLASS_NAME}" (or create an IngressClass "{wanted}" '
            f"with spec.controller {classes.CONTROLLER})")

    def _write_status(self, ingress: Obj, served: bool) -> None:
        current = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if served and self.listeners:
            wanted: Any = LOAD_BALANCER
        elif current == LOAD_BALANCER:
            wanted = None  # ours no more: take our address away
        else:
            return
        if current == wanted:
            return
        try:
            updated = self.client.patch("ingresses", name(ingress), namespace(ingress),
                                        {"status": {"loadBalancer": {"ingress": wanted}}},
                                        subresource="status")
        except NotFound:
            return
        except ApiError as error:
            log.info("ingress %s/%s: status not written: %s", namespace(ingress),
                     name(ingress), error)
            raise
        self.ingresses.upsert_local(updated)

    def status(self) -> dict[str, Any]:
        return {"http": self.listeners["http"].port if "http" in self.listeners else None,
                "https": self.https_port(), "errors": dict(self.listen_errors)}



def ensure_default_class(client: KubeClient) -> Obj | None:
    """Create the IngressClass ``kompy`` unless it exists; the created object, if made. A
    user's changes to it, or its deletion later, are left alone until the next start. The
    daemon calls this before it tells anyone its API is up, so an Ingress applied right after
    ``kompy cluster start`` already gets the default class."""
    try:
        client.get("ingressclasses", classes.CLASS_NAME)
    except NotFound:
        with contextlib.suppress(Conflict):
            return client.create(classes.default_class_object())
    return None
