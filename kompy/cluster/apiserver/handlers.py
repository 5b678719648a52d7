"""What each API endpoint does, independent of HTTP: the kube-apiserver's request logic.

Create/update run defaulting (defaults.py), validation and allocation (admission.py), then
the store; watches turn the store's event log into ``(type, object)`` events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from kompy.client import resources
from kompy.client.errors import ApiError, Conflict, Gone, NotFound, status_body
from kompy.client.objects import Obj, copy_json
from kompy.client.resources import RESOURCES, Resource
from kompy.client.selectors import (
    format_label_selector,
    matches_fields,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
)
from kompy.cluster.apiserver import (
    admission,
    defaults,
    hostpaths,
    plugins,
    priority,
    quota,
    storage,
    typed,
)
from kompy.cluster.apiserver.decode import duplicate_fields
from kompy.cluster.apiserver.managedfields import FieldManager, keep_times_of_a_noop
from kompy.cluster.apiserver.metricsapi import MetricsSource
from kompy.cluster.apiserver.openapi import OpenAPI
from kompy.cluster.apiserver.patch import json_patch, merge_patch, strategic_merge_patch
from kompy.cluster.apiserver.schemas import SchemaRegistry
from kompy.cluster.apiserver.warning import warn
from kompy.cluster.apiserver.watchevents import WatchEvent
from kompy.cluster.kubelet.backend import ProcessStreams
from kompy.cluster.store.sqlite import Store, not_found
from kompy.cluster.store.watchcache import Change

NAMESPACE = resources.lookup("namespaces")
SERVICES = resources.lookup("services")
EVENTS = resources.lookup("events")
INGRESS_CLASSES = resources.lookup("ingressclasses")
EVENT_TTL = 3600
# When an Event was last seen: the first of these it has (core/v1 Events, then events.k8s.io
# ones, then any object).
EVENT_STAMPS = ("$.lastTimestamp", "$.eventTime", "$.metadata.creationTimestamp")
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
# kube-apiserver's --min-request-timeout: a watch without timeoutSeconds stays open for a
# random time between this and twice this, so a fleet of clients does not reconnect at once.
MIN_REQUEST_TIMEOUT = 1800
BOOKMARK_SECONDS = 30.0
# A waiting watch re-reads the log this often even without a notification: a safety net, not
# a poll anything depends on (every write notifies; a client that leaves is noticed at once).
SAFETY_WAKE_SECONDS = 30.0
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")
APPLY_PATCH = "application/apply-patch+yaml"
VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-kompy", "platform": "linux/amd64"}
# The fieldValidation query parameter: what to do with fields the schema does not know.
# kube-apiserver's default is Warn (drop them, with a warning); kubectl sends Strict.
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


class PodIO(Protocol):
    """Logs, exec, attach and port-forward of pods; implemented by the kubelet
    (kubelet/podio.py)."""

    def logs(self, namespace: str, pod: str, container: str, *, follow: bool, previous: bool,
             tail_lines: int | None, since: float | None = None,
             timestamps: bool = False) -> Iterator[bytes]: ...

    def exec_streams(self, namespace: str, pod: str, container: str | None,
                     command: list[str], *, stdin: bool, tty: bool) -> ProcessStreams: ...

    def attach(self, namespace: str, pod: str, container: str | None, *, stdin: bool,
               tty: bool) -> ProcessStreams: ...

    def pod_address(self, namespace: str, pod: str) -> str: ...


@dataclass(frozen=True)
class WriteOptions:
    """A write's query options: who writes (``fieldManager``, else the client's user
    agent), ``dryRun=All``, ``force`` (apply only); ``applied``: managed fields are already
    computed (server-side apply)."""

    manager: str = "kompy"
    dry_run: bool = False
    force: bool = False
    explicit_manager: bool = False
    applied: bool = False
    subresource: str = ""        # a write through /scale, recorded as such


@dataclass(frozen=True)
class Route:
    res: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def watch_timeout(seconds: int | None) -> float:
    """How long a watch stays open, as kube-apiserver's GetTimeoutForWatch decides: the
    client's ``timeoutSeconds`` as given; none (or 0) means a random time in
    [--min-request-timeout, 2 x --min-request-timeout)."""
    if seconds:
        return float(seconds)
    return MIN_REQUEST_TIMEOUT * (1.0 + random.random())


class Api:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.schemas = SchemaRegistry(f"{VERSION['major']}.{VERSION['minor']}")
        self.openapi = OpenAPI(self.schemas, "Kubernetes", VERSION["gitVersion"])
        self.fields = FieldManager(self.schemas)
        # The daemon's state folder (the store's): a pod that mounts it gets a warning.
        self.state_dir = Path(store.path).parent if store.path != ":memory:" else None
        self.pod_io: PodIO | None = None
        self.metrics: MetricsSource | None = None   # set by the daemon (metricsapi.py)
        self.closing = threading.Event()       # set when the server stops: watches end
        # Choosing a free cluster IP and storing the Service must not interleave.
        self._allocating = threading.Lock()
        self.event_ttl: float = EVENT_TTL      # seconds (kube-apiserver's --event-ttl)
        self._events_expired = time.monotonic()
        self._watches = 0                      # open watch streams (see watching())
        self._watches_lock = threading.Lock()
        # Admission steps others plug in (ServiceAccount defaults for pods, RBAC's escalation
        # checks): each sees the object about to be stored and the stored one (None on
        # create), and may change the first or raise.
        self.admitters: list[Callable[[Resource, Obj, Obj | None], None]] = []
        for name in SYSTEM_NAMESPACES:
            with contextlib.suppress(Conflict):
                self.create(Route(NAMESPACE, None, None, None),
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        storage.ensure_default_class(
            lambda obj: self.create(Route(storage.STORAGE_CLASSES, None, None, None), obj),
            self.store.list(storage.STORAGE_CLASSES)[0])
        priority.ensure_system_classes(
            lambda obj: self.create(Route(priority.PRIORITY_CLASSES, None, None, None), obj))

    # -- reads -------------------------------------------------------------------------------

    def get(self, route: Route) -> Obj:
        assert route.name
        obj: Obj = self.store.get(route.res, route.namespace, route.name)
        return obj

    def list(self, route: Route, label_selector: str | None, field_selector: str | None) -> Obj:
        keep = _filter(label_selector, field_selector)
        items, rv = self.store.list(route.res, route.namespace, keep)
        return {"kind": f"{route.res.kind}List", "apiVersion": route.res.api_version,
                "metadata": {"resourceVersion": str(rv)}, "items": items}

    def watching(self) -> int:
        """How many watch streams are open (tests and the soak benchmark read it)."""
        with self._watches_lock:
            return self._watches

    def watch(self, route: Route, resource_version: str | None, label_selector: str | None,
              field_selector: str | None, timeout: int | None, bookmarks: bool,
              cancelled: threading.Event | None = None) -> Iterator[WatchEvent]:
        """Watch events (``{"type", "object"}`` once encoded); a too-old version yields an
        ERROR.

        The stream ends after ``timeout`` seconds (see watch_timeout), when the server stops,
        or when ``cancelled`` is set (the transport saw the client go away; call
        ``store.wake(plural)`` after setting it). Parameters are checked here, before the
        stream starts, so a bad one is an error answer rather than a stream that ends at once.
        """
        keep = _filter(label_selector, field_selector)
        start: int | None = None
        if resource_version and resource_version != "0":
            try:
                start = int(resource_version)
            except ValueError as e:
                raise bad_request(f"invalid resourceVersion {resource_version!r}") from e
        return self._counted(self._watch(route, start, keep, watch_timeout(timeout), bookmarks,
                                         cancelled or threading.Event()))

    def _counted(self, events: Iterator[WatchEvent]) -> Iterator[WatchEvent]:
        with self._watches_lock:
            self._watches += 1
        try:
            yield from events
        finally:
            with self._watches_lock:
                self._watches -= 1

    def _watch(self, route: Route, start: int | None, keep: Any, timeout: float,
               bookmarks: bool, cancelled: threading.Event) -> Iterator[WatchEvent]:
        res = route.res
        if start is None:
            items, rv = self.store.list(res, route.namespace, keep)
            for item in items:
                yield WatchEvent("ADDED", item)
        else:
            rv = start
        now = time.monotonic()
        deadline = now + timeout
        next_bookmark = now + BOOKMARK_SECONDS if bookmarks else float("inf")
        while True:
            try:
                events, top = self.store.events_since(res, rv, route.namespace)
            except Gone as e:
                yield WatchEvent("ERROR", status_body(410, "Expired", e.message))
                return
            for change in events:
                kind = _filtered_type(change, keep)
                if kind:
                    yield WatchEvent(kind, text=change.body)
                rv = change.rv
            rv = max(rv, top)
            now = time.monotonic()
            if now >= deadline or self.closing.is_set() or cancelled.is_set():
                return
            if now >= next_bookmark:
                next_bookmark = now + BOOKMARK_SECONDS
                yield WatchEvent("BOOKMARK", {
                    "kind": res.kind, "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(rv)}})
            if not events:
                # Every write of this resource notifies, as do the server stopping and the
                # client leaving (cancelled): the wait ends at the next thing to do.
                wait = min(deadline, next_bookmark) - now
                self.store.wait_for_change(rv, max(0.0, min(wait, SAFETY_WAKE_SECONDS)),
                                           res.plural, cancelled)

    # -- writes ------------------------------------------------------------------------------

    def _prepare(self, route: Route, obj: Any, validation: str, creating: bool) -> Obj:
        res = route.res
        if not isinstance(obj, dict):
            raise bad_request("the request body must be a JSON object")
        obj = copy_json(obj)
        assert isinstance(obj, dict)
        kind = obj.setdefault("kind", res.kind)
        api_version = obj.setdefault("apiVersion", res.api_version)
        if kind != res.kind or api_version != res.api_version:
            raise bad_request(f"the body is a {api_version}/{kind}, but the URL is for "
                              f"{res.api_version}/{res.kind}")
        self._check_schema(res, obj, validation)
        if obj.get("metadata") is None:  # null counts as absent, as for Go's decoder
            obj["metadata"] = {}
        meta = obj["metadata"]
        if res.namespaced:
            namespace = route.namespace or meta.get("namespace") or "default"
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = namespace
            self._namespace_accepts(res, obj, creating)
        else:
            meta.pop("namespace", None)
        if route.name and meta.get("name") and meta["name"] != route.name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name "
                              f"on the URL ({route.name})")
        if route.name:
            meta["name"] = route.name
        typed.normalize(obj, self.fields.node(res))
        defaults.apply_defaults(res.kind, obj)
        admission.validate(res, obj)
        for message in hostpaths.warnings(res.kind, obj, self.state_dir):
            warn(message)
        prepared: Obj = obj
        return prepared

    def _check_schema(self, res: Resource, obj: Obj, validation: str) -> None:
        """Field types against the kind's OpenAPI schema (422 with every problem), and
        unknown fields as ``validation`` (fieldValidation) asks: refused, or dropped with
        or without a warning, as kube-apiserver's decoder drops them. Quantities are left
        as kube-apiserver's decoding leaves them (canonical: ``0.5`` is ``500m``)."""
        if validation not in FIELD_VALIDATION:
            raise bad_request(f"invalid fieldValidation {validation!r}: must be one of "
                              f"{', '.join(FIELD_VALIDATION)}")
        found = self.schemas.check(res, obj)
        if found.undecodable:
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a '
                              f"{res.kind}: {found.undecodable[0]}")
        if found.errors:
            raise admission.invalid(res, obj, found.errors)
        found.canonicalize()
        problems = [f'duplicate field "{path}"' for path in duplicate_fields()]
        problems += [f'unknown field "{path}"' for path in found.unknown_paths()]
        if not problems:
            return
        if validation == "Strict":
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a '
                              f"{res.kind}: strict decoding error: {', '.join(problems)}")
        if validation == "Warn":
            for message in problems:
                warn(message)
        found.drop_unknown()

    def _namespace_accepts(self, res: Resource, obj: Obj, creating: bool) -> None:
        """kube-apiserver's NamespaceLifecycle admission: the namespace must exist, and one
        being deleted takes no new object; its objects' updates (a finalizer taken off, a
        pod's status) go on, or its deletion could never finish."""
        namespace = obj["metadata"]["namespace"]
        try:
            ns = self.store.get(NAMESPACE, None, namespace)
        except NotFound as e:
            raise NotFound(404, "NotFound", f'namespaces "{namespace}" not found',
                           hint=f"create it first: kompy apply of a Namespace {namespace!r}"
                           ) from e
        if creating and (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise quota.forbidden(res, obj, f"unable to create new content in namespace "
                                            f"{namespace} because it is being terminated")

    def _allocate(self, res: Resource, obj: Obj, old: Obj | None) -> None:
        if res.kind == "Service":
            listed, _ = self.store.list(SERVICES)
            others = [o for o in listed if o["metadata"].get("uid") != (old or {}).get(
                "metadata", {}).get("uid")]
            admission.check_node_ports(res, obj, old, others)
            admission.allocate_service(obj["spec"], old, others)

    def _admit(self, res: Resource, obj: Obj, old: Obj | None) -> Sequence[quota.Charge]:
        """The plugins that read the namespace's LimitRanges, quotas and classes; a new
        object's generated name is chosen first, for their messages."""
        meta = obj.setdefault("metadata", {})
        if old is None and not meta.get("name") and meta.get("generateName"):
            meta["name"] = self.store.generate_name(res, str(meta.get("namespace") or ""),
                                                    str(meta["generateName"]))
        return plugins.admit(res, obj, lambda kind, ns: self.store.list(
            kind, ns if kind.namespaced else None)[0], old)

    def _charge(self, charges: Sequence[quota.Charge], dry_run: bool) -> None:
        """Record a stored object's usage in its quotas. The caller holds the store
        (``atomically``) from the quotas' reading on: nothing has written them since, so the
        quotas' resourceVersions are current, and a recount by the quota controller either
        saw neither the object nor its charge or conflicts and counts again."""
        for charge in [] if dry_run else charges:
            self.store.update(quota.QUOTAS, charge.quota, status=True)

    def create(self, route: Route, body: Any, validation: str = "Warn",
               options: WriteOptions | None = None) -> Obj:
        options = options or WriteOptions()
        obj = self._prepare(Route(route.res, route.namespace, None, None), body, validation,
                            creating=True)
        if route.res.has_status:
            defaults.initial_status(route.res.kind, obj)
        for admit in self.admitters:
            admit(route.res, obj, None)
        if not options.applied:
            self.fields.update(route.res, None, obj, options.manager)
        with self._allocating:
            self._allocate(route.res, obj, None)
            if route.res.kind == "Ingress":
                admission.default_ingress_class(obj, self.store.list(INGRESS_CLASSES)[0])
            with self.store.atomically():     # the quotas' check, the write and the charge
                charges = self._admit(route.res, obj, None)
                created = self.store.create(route.res, obj, dry_run=options.dry_run)
                self._charge(charges, options.dry_run)
        if route.res.kind == "Event" and not options.dry_run:
            self._expire_events()
        return created

    def _expire_events(self) -> None:
        """At most once a minute, on an Event's creation (a busy cluster's sweep does not
        wait for the store's maintenance pass)."""
        now = time.monotonic()
        if now - self._events_expired < 60:
            return
        self._events_expired = now
        self.expire_events()

    def expire_events(self, now: datetime | None = None) -> int:
        """Delete the Events last seen more than ``event_ttl`` seconds before ``now``; how
        many. kube-apiserver's --event-ttl (one hour by default) puts each Event on an etcd
        lease, so they go whether or not anything else happens: the store's maintenance
        timer calls this on every pass, an idle cluster included."""
        cutoff = ((now or datetime.now(UTC)) - timedelta(seconds=self.event_ttl)).strftime(
            "%Y-%m-%dT%H:%M:%S")
        expired = 0
        for namespace, name in self.store.keys_older_than(EVENTS, cutoff, EVENT_STAMPS):
            with contextlib.suppress(NotFound):
                self.store.delete(EVENTS, namespace or None, name)
                expired += 1
        return expired

    def update(self, route: Route, body: Any, validation: str = "Warn",
               options: WriteOptions | None = None) -> Obj:
        assert route.name
        options = options or WriteOptions()
        obj = self._prepare(route, body, validation, creating=False)
        if route.subresource == "status":
            res, manager = route.res, options.manager

            applied = (obj.get("metadata") or {}).get("managedFields")

            def record(old: Obj, new: Obj) -> None:
                if options.applied:      # server-side apply computed them already
                    new["metadata"]["managedFields"] = copy_json(applied)
                else:
                    self.fields.update(res, old, new, manager, "status")
                keep_times_of_a_noop(old, new)
            return self.store.update(route.res, obj, status=True, dry_run=options.dry_run,
                                     before_write=record)
        with self._allocating:
            old = self.store.get(route.res, route.namespace, route.name)
            admission.validate_update(route.res, old, obj)
            for admit in self.admitters:
                admit(route.res, obj, old)
            with self.store.atomically():     # the quotas' check, the write and the charge
                charges = self._admit(route.res, obj, old)
                self._allocate(route.res, obj, old)
                if not options.applied:
                    self.fields.update(route.res, old, obj, options.manager,
                                       options.subresource)
                updated = self.store.update(route.res, obj, dry_run=options.dry_run,
                                            before_write=_before_update(route.res))
                self._charge(charges, options.dry_run)
            return updated

    def patch(self, route: Route, body: Any, content_type: str, validation: str = "Warn",
              options: WriteOptions | None = None) -> Obj:
        assert route.name
        options = options or WriteOptions()
        media = content_type.split(";", 1)[0].strip().lower()
        if media == APPLY_PATCH:
            return self.apply(route, body, validation, options)[0]
        if media not in PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted "
                           f"media types include: {', '.join((*PATCH_TYPES, APPLY_PATCH))}")
        if options.force:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: '
                                           "Forbidden: may not be specified for non-apply patch")
        for _attempt in range(10):
            current = self.store.get(route.res, route.namespace, route.name)
            if media == "application/json-patch+json":
                patched = json_patch(current, body)
            elif media == "application/strategic-merge-patch+json":
                if not isinstance(body, dict):
                    raise bad_request("a strategic merge patch must be a JSON object")
                patched = strategic_merge_patch(current, body)
            else:
                if not isinstance(body, dict):
                    raise bad_request("a merge patch must be a JSON object")
                patched = merge_patch(current, body)
            wanted = (body.get("metadata") or {}).get("resourceVersion") if isinstance(
                body, dict) else None
            patched.setdefault("metadata", {})["resourceVersion"] = (
                wanted or current["metadata"]["resourceVersion"])
            try:
                return self.update(route, patched, validation, options)
            except Conflict:
                if wanted:
                    raise
        raise Conflict(409, "Conflict", f"{route.name}: too many concurrent changes; retry")

    def apply(self, route: Route, body: Any, validation: str, options: WriteOptions
              ) -> tuple[Obj, bool]:
        """Server-side apply (managedfields.py): the object, and whether it was created."""
        assert route.name
        res = route.res
        if not options.explicit_manager:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                                           "fieldManager: Required value: is required for "
                                           "apply patch")
        if not isinstance(body, dict):
            raise bad_request("an apply configuration must be an object")
        for key, expected in (("apiVersion", res.api_version), ("kind", res.kind)):
            if body.get(key) != expected:
                raise bad_request(f"the {key} of the configuration ({body.get(key)!r}) does "
                                  f"not match the URL's ({expected})")
        config = copy_json(body)
        self._check_schema(res, config, validation)
        applied = WriteOptions(options.manager, options.dry_run, options.force,
                               explicit_manager=True, applied=True)
        sub = route.subresource or ""
        for _attempt in range(10):
            try:
                live: Obj | None = self.store.get(res, route.namespace, route.name)
            except NotFound:
                live = None
            if live is None and sub:
                raise not_found(res, route.name)
            result = self.fields.apply(res, live, config, options.manager, options.force, sub)
            try:
                if live is None:
                    return self.create(route, result, "Ignore", applied), True
                result["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                return self.update(route, result, "Ignore", applied), False
            except Conflict as error:
                if error.reason == "Conflict" and "Apply failed" in error.message:
                    raise
        raise Conflict(409, "Conflict", f"{route.name}: too many concurrent changes; retry")

    def delete(self, route: Route, grace: int | None, dry_run: bool = False,
               propagation: str | None = None) -> Obj:
        assert route.name
        res = route.res
        if res.kind == "Namespace" and route.name in SYSTEM_NAMESPACES:
            raise ApiError(403, "Forbidden", f'namespace "{route.name}" is a system '
                                             "namespace and may not be deleted")
        if res.kind == "PriorityClass":
            priority.refuse_delete(route.name)
        if propagation not in (None, "", "Background", "Foreground", "Orphan"):
            raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: '
                                           f'propagationPolicy: Unsupported value: '
                                           f'"{str(propagation)[:40]}": supported values: '
                                           '"Foreground", "Background", "Orphan"')
        gone = self.store.get(res, route.namespace, route.name)
        if propagation in ("Orphan", "Foreground") and not dry_run:
            self._propagate(gone, propagation)
        # A namespace is marked Terminating first, so nothing new is created in it meanwhile.
        left = self.store.delete(res, route.namespace, route.name, grace, dry_run=dry_run)
        if left is not None and res.kind == "Namespace" and not dry_run:
            self._empty_namespace(route.name)
            left = self.store.delete(res, None, route.name, grace)
        if left is not None:
            return left
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": route.name, "group": res.group, "kind": res.plural,
                            "uid": gone["metadata"].get("uid")}}

    def _propagate(self, owner: Obj, policy: str) -> None:
        """``propagationPolicy`` before the owner goes (kube-apiserver leaves both to the
        garbage collector, through finalizers; here the server does them at once):
        Orphan takes the owner out of its dependents' ownerReferences, Foreground deletes
        the dependents first. Background, the default, is the garbage collector's."""
        meta = owner.get("metadata") or {}
        uid, namespace = meta.get("uid"), meta.get("namespace")
        for res in RESOURCES:
            if namespace and not res.namespaced:
                continue
            items, _ = self.store.list(res, namespace if res.namespaced else None)
            for item in items:
                refs = (item.get("metadata") or {}).get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in refs):
                    continue
                item_meta = item["metadata"]
                route = Route(res, item_meta.get("namespace"), item_meta["name"], None)
                with contextlib.suppress(NotFound):
                    if policy == "Orphan":
                        self._orphan(route, str(uid))
                    else:
                        self.delete(route, None, propagation="Foreground")

    def _orphan(self, route: Route, owner_uid: str) -> None:
        """Take an owner out of an object's ownerReferences (retried while controllers
        write the object meanwhile)."""
        assert route.name
        for _attempt in range(20):
            item = self.store.get(route.res, route.namespace, route.name)
            meta = item["metadata"]
            refs = meta.get("ownerReferences") or []
            meta["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
            if not meta["ownerReferences"]:
                meta.pop("ownerReferences")
            try:
                self.store.update(route.res, item)
                return
            except Conflict:
                continue

    def delete_collection(self, route: Route, label_selector: str | None,
                          field_selector: str | None, grace: int | None,
                          dry_run: bool = False) -> Obj:
        """DELETE of a collection (``deletecollection``): each matching object deleted as
        by DELETE of it; the answer lists them as they were."""
        if route.res.kind == "Namespace":
            raise ApiError(405, "MethodNotAllowed", "deletecollection is not allowed for "
                                                    "namespaces")
        listing = self.list(route, label_selector, field_selector)
        gone: list[Obj] = []
        for item in listing["items"]:
            with contextlib.suppress(NotFound):
                self.delete(Route(route.res, item["metadata"].get("namespace"),
                                  item["metadata"]["name"], None), grace, dry_run)
                gone.append(item)
        listing["items"] = gone
        return listing

    def _empty_namespace(self, namespace: str) -> None:
        """Delete everything in a namespace before the namespace itself (kube-controller-
        manager's namespace controller does this while the namespace is Terminating)."""
        for res in RESOURCES:
            if not res.namespaced:
                continue
            items, _ = self.store.list(res, namespace)
            for item in items:
                with contextlib.suppress(NotFound):
                    self.store.delete(res, namespace, item["metadata"]["name"])

    # -- scale (https://kubernetes.io/docs/reference/kubernetes-api/autoscaling-resources/
    #    scale-v1/), what `kubectl scale` and autoscalers use --------------------------------

    def scale(self, route: Route, method: str, body: Any, content_type: str,
              options: WriteOptions | None = None) -> Obj:
        assert route.name
        target = Route(route.res, route.namespace, route.name, None)
        obj = self.store.get(route.res, route.namespace, route.name)
        if method in ("PUT", "PATCH"):
            if not isinstance(body, dict):
                raise bad_request("a Scale body must be a JSON object")
            wanted = merge_patch(_scale_of(obj), body) if method == "PATCH" else body
            replicas = (wanted.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", f"Scale.autoscaling \"{route.name}\" is invalid: "
                                               "spec.replicas: must be an integer >= 0")
            # Recorded in managedFields under the subresource, as kube-apiserver does.
            obj = self.patch(target, {"spec": {"replicas": replicas}},
                             "application/merge-patch+json", "Warn", dataclasses.replace(
                                 options or WriteOptions(), subresource="scale"))
        return _scale_of(obj)

    # -- pods --------------------------------------------------------------------------------

    def pod_container(self, route: Route, container: str | None) -> tuple[Obj, str]:
        assert route.name and route.namespace
        pod = self.store.get(resources.lookup("pods"), route.namespace, route.name)
        names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        names += [str(c.get("name")) for c in (pod.get("spec") or {}).get("initContainers") or []]
        if container is None:
            if not names:
                raise bad_request(f"pod {route.name} has no containers")
            return pod, names[0]
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {route.name}; "
                              f"choose one of: {', '.join(names)}")
        return pod, container

    def io(self) -> PodIO:
        if self.pod_io is None:
            raise ApiError(503, "ServiceUnavailable",
                           "the cluster runtime (kubelet) is not running; logs and exec are "
                           "unavailable")
        return self.pod_io


def _scale_of(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": format_label_selector(spec.get("selector"))}}


def _filtered_type(change: Change, keep: Any) -> str | None:
    """The event a filtered watch sees: an object that stops matching is DELETED for it,
    one that starts matching is ADDED (as kube-apiserver's watch cache does)."""
    if keep is None:
        return change.type
    now_matches = keep(change.obj)
    prev = change.prev
    if change.type != "MODIFIED" or prev is None:
        return change.type if now_matches else None
    before = keep(prev)
    if now_matches:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


def _filter(label_selector: str | None, field_selector: str | None) -> Any:
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector)
    if not labels and not fields:
        return None

    def keep(obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        return matches_labels(labels, meta.get("labels")) and matches_fields(fields, obj)
    return keep


def _before_update(res: Resource) -> Callable[[Obj, Obj], None]:
    """What a write through the main endpoint does to the object as stored, under the
    store's lock."""
    def before_write(old: Obj, new: Obj) -> None:
        keep_times_of_a_noop(old, new)
        if res.kind == "Pod":
            _binding(old, new)
    return before_write


def _binding(old: Obj, new: Obj) -> None:
    """A pod's binding clears ``status.nominatedNodeName`` in the same write, as
    kube-apiserver's pods/binding does (setPodNodeAndMetadata; feature
    ClearingNominatedNodeNameAfterBinding, on by default from 1.35): the nomination was
    preemption's promise to a pending pod, and once it is bound, a stale one would read as a
    reservation of a node it may not even be on (``kubectl get pods -o wide``, other
    schedulers). kompy's scheduler binds by setting ``spec.nodeName`` on an unbound pod."""
    if (old.get("spec") or {}).get("nodeName") or not (new.get("spec") or {}).get("nodeName"):
        return
    status = new.get("status")
    if isinstance(status, dict):
        status.pop("nominatedNodeName", None)


__all__ = ["Api", "PodIO", "Route", "not_found"]

