"""The built-in cluster's store ("our etcd"): Kubernetes objects in one SQLite file.

Design (see also docs/cluster.md, "Store durability design"):

* Objects are JSON text keyed by (resource, namespace, name); cluster-scoped objects have
  namespace "". One global counter gives every write a new, monotonically increasing
  ``resourceVersion`` (as etcd's revision does), so versions order writes across kinds.
* Every write is one ``BEGIN IMMEDIATE`` transaction that updates the object row, appends the
  change to the ``events`` table and bumps the counter: either all of it is on disk or none.
* Journal: WAL with ``synchronous=NORMAL``. In WAL mode NORMAL never corrupts the database and
  loses nothing when a *process* dies (kill -9): committed transactions are in the WAL file,
  which the OS holds even if the writer dies. Only a power cut or kernel crash can lose the
  last transactions before the next checkpoint (https://www.sqlite.org/wal.html,
  https://www.sqlite.org/pragma.html#pragma_synchronous). For a development cluster whose
  objects are re-applied from manifests that trade is right: FULL costs an fsync per write
  (milliseconds each on this machine) on the hot path of every controller.
* Watches resume from any ``resourceVersion`` still in the event log; the log keeps the last
  ``history`` events, and an older version answers 410 Gone (as etcd compaction does).
* Optimistic concurrency: an update carrying a stale resourceVersion raises Conflict.
* Thread safety: one connection guarded by one lock; the API server's threads serialise on it
  (SQLite serialises writers anyway, and reads here take microseconds).
* Watch cache: the last ``RECENT`` changes of each resource are also kept in memory, parsed,
  and a write wakes only the watchers of its own resource (kube-apiserver's watch cache
  does the same). Without it every write woke every watch, each to query and parse the event
  log: a few thousand queries to start 30 pods. The event log in SQLite stays the truth
  (resuming from a version older than the cache, or after a restart, reads it), and the
  daemon's lock file makes its Store the only writer, so the cache cannot go stale.
"""

from __future__ import annotations

import builtins
import copy
import json
import random
import sqlite3
import string
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kompy.client.errors import Conflict, Gone, Invalid, NotFound
from kompy.client.objects import Obj
from kompy.client.resources import Resource

Filter = Callable[[Obj], bool]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL,
    type TEXT NOT NULL, body TEXT NOT NULL,
    prev TEXT  -- MODIFIED: the object before, so filtered watches see objects leave/enter
);
CREATE INDEX IF NOT EXISTS events_by_resource ON events (resource, rv);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('rv', 0), ('compacted', 0);
"""

# Changes of each resource kept in memory for watches (see the module docstring).
RECENT = 1000

# Parts of an object that are not "spec": a change elsewhere bumps metadata.generation.
_NOT_SPEC = ("metadata", "status", "kind", "apiVersion")


@dataclass(frozen=True)
class Change:
    """One entry of the event log: what a watch delivers."""

    rv: int
    type: str              # ADDED, MODIFIED, DELETED
    obj: Obj
    prev: Obj | None       # for MODIFIED: the object before the change
    namespace: str = ""


def now() -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in _NOT_SPEC}


def _conflict(res: Resource, name: str) -> Conflict:
    return Conflict(409, "Conflict",
                    f'Operation cannot be fulfilled on {res.plural}.{res.group or "core"} '
                    f'"{name}": the object has been modified; please apply your changes to '
                    "the latest version and try again")


def not_found(res: Resource, name: str) -> NotFound:
    group = f".{res.group}" if res.group else ""
    return NotFound(404, "NotFound", f'{res.plural}{group} "{name}" not found')


class Store:
    def __init__(self, path: Path | str, *, history: int = 10_000) -> None:
        self.path = str(path)
        self.history = history
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "prev" not in columns:    # a store written by an earlier kompy
            self._db.execute("ALTER TABLE events ADD COLUMN prev TEXT")
        self._writes = 0
        self._rv = self._read_meta("rv")
        self._compacted = self._read_meta("compacted")
        # Watch cache: every change of a resource after _floor[resource] is in _recent.
        self._opened_at = self._rv
        self._recent: dict[str, deque[Change]] = {}
        self._floor: dict[str, int] = {}
        self._latest: dict[str, int] = {}
        self._resource_changed: dict[str, threading.Condition] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading ----------------------------------------------------------------------------

    def _read_meta(self, key: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0])

    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def compacted(self) -> int:
        with self._lock:
            return self._compacted

    def _get(self, res: Resource, namespace: str, name: str) -> Obj | None:
        row = self._db.execute(
            "SELECT body FROM objects WHERE resource=? AND namespace=? AND name=?",
            (res.plural, namespace, name)).fetchone()
        return json.loads(row[0]) if row else None

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj:
        with self._lock:
            obj = self._get(res, namespace or "", name)
        if obj is None:
            raise not_found(res, name)
        return obj

    def list(self, res: Resource, namespace: str | None = None,
             keep: Filter | None = None) -> tuple[builtins.list[Obj], int]:
        """Objects (sorted by namespace, name) that ``keep`` accepts, and the list's version."""
        with self._lock:
            if namespace:
                rows = self._db.execute(
                    "SELECT body FROM objects WHERE resource=? AND namespace=? ORDER BY name",
                    (res.plural, namespace)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT body FROM objects WHERE resource=? ORDER BY namespace, name",
                    (res.plural,)).fetchall()
            rv = self.resource_version()
        items = [json.loads(r[0]) for r in rows]
        return ([o for o in items if keep(o)] if keep else items), rv

    def events_since(self, res: Resource, since: int, namespace: str | None = None,
                     limit: int = 500) -> tuple[builtins.list[Change], int]:
        """Changes to ``res`` after version ``since``, and the version they bring a watcher
        up to (the store's version when nothing is left to read); Gone if history no longer
        reaches ``since``."""
        with self._lock:
            if since < self._compacted:
                raise Gone(410, "Expired", f"too old resource version: {since} "
                                           f"({self._compacted})")
            if since >= self._floor.get(res.plural, self._opened_at):
                return self._recent_since(res.plural, since, namespace, limit)
            query = ("SELECT rv, type, body, prev, namespace FROM events "
                     "WHERE resource=? AND rv>?")
            args: builtins.list[Any] = [res.plural, since]
            if namespace:
                query += " AND namespace=?"
                args.append(namespace)
            rows = self._db.execute(query + " ORDER BY rv LIMIT ?", (*args, limit)).fetchall()
            top = int(rows[-1][0]) if len(rows) == limit else self._rv
        return [Change(int(r[0]), str(r[1]), json.loads(r[2]),
                       json.loads(r[3]) if r[3] else None, str(r[4])) for r in rows], top

    def _recent_since(self, resource: str, since: int, namespace: str | None, limit: int
                      ) -> tuple[builtins.list[Change], int]:
        """events_since from the watch cache. The Change objects are shared between
        watchers: read them, never change them."""
        newer: builtins.list[Change] = []
        for change in reversed(self._recent.get(resource, ())):
            if change.rv <= since:
                break
            if not namespace or change.namespace == namespace:
                newer.append(change)
        newer.reverse()
        if len(newer) >= limit:
            return newer[:limit], newer[limit - 1].rv
        return newer, self._rv

    def wait_for_change(self, after: int, timeout: float, resource: str | None = None) -> bool:
        """Block until a write after version ``after`` (True) or ``timeout`` (False);
        with ``resource`` (a plural), only a write of that resource counts."""
        with self._lock:
            condition = self._changed if resource is None else self._condition(resource)
            if self._version_of(resource) > after:
                return True
            condition.wait(timeout)
            return self._version_of(resource) > after

    def _version_of(self, resource: str | None) -> int:
        return self._rv if resource is None else self._latest.get(resource, 0)

    def _condition(self, resource: str) -> threading.Condition:
        if resource not in self._resource_changed:
            self._resource_changed[resource] = threading.Condition(self._lock)
        return self._resource_changed[resource]

    def wake(self) -> None:
        """Wake every waiting watcher (the server is stopping)."""
        with self._lock:
            self._changed.notify_all()
            for condition in self._resource_changed.values():
                condition.notify_all()

    # -- writing ----------------------------------------------------------------------------

    def _write(self, res: Resource, obj: Obj, event: str, *, remove: bool = False,
               prev: Obj | None = None) -> Obj:
        """Give ``obj`` the next version and persist it with its event, in one transaction."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "") if res.namespaced else ""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rv = int(self._db.execute(
                "UPDATE meta SET value=value+1 WHERE key='rv' RETURNING value").fetchone()[0])
            meta["resourceVersion"] = str(rv)
            body = json.dumps(obj, separators=(",", ":"))
            prev_body = json.dumps(prev, separators=(",", ":")) if prev else None
            if remove:
                self._db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND "
                                 "name=?", (res.plural, namespace, meta["name"]))
            else:
                self._db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)",
                                 (res.plural, namespace, meta["name"], rv, body))
            self._db.execute("INSERT INTO events VALUES (?,?,?,?,?,?)",
                             (rv, res.plural, namespace, event, body, prev_body))
            self._writes += 1
            compacted = self._compact(rv) if self._writes % 500 == 0 else self._compacted
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._rv, self._compacted = rv, compacted
        # The cache holds its own parsed copy: callers go on using (and changing) ``obj``.
        self._remember(res.plural, Change(rv, event, json.loads(body),
                                          json.loads(prev_body) if prev_body else None,
                                          namespace))
        return obj

    def _remember(self, resource: str, change: Change) -> None:
        recent = self._recent.setdefault(resource, deque(maxlen=RECENT))
        if len(recent) == RECENT:
            self._floor[resource] = recent[0].rv   # about to fall out of the cache
        recent.append(change)
        self._latest[resource] = change.rv
        self._changed.notify_all()
        if resource in self._resource_changed:
            self._resource_changed[resource].notify_all()

    def _compact(self, rv: int) -> int:
        floor = rv - self.history
        if floor > 0:
            self._db.execute("DELETE FROM events WHERE rv<=?", (floor,))
            self._db.execute("UPDATE meta SET value=? WHERE key='compacted'", (floor,))
        return max(floor, self._compacted)

    def create(self, res: Resource, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if res.namespaced else ""
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generate_name(res, namespace, str(meta["generateName"]))
            if not meta.get("name"):
                raise Invalid(422, "Invalid", f"{res.kind} is invalid: metadata.name: "
                                              "Required value: name or generateName is required")
            if self._get(res, namespace, meta["name"]) is not None:
                raise Conflict(409, "AlreadyExists",
                               f'{res.plural} "{meta["name"]}" already exists')
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
            for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(key, None)
            return self._write(res, obj, "ADDED")

    def _generate_name(self, res: Resource, namespace: str, prefix: str) -> str:
        # Kubernetes appends 5 random characters from a vowel-free alphabet.
        alphabet = "".join(c for c in string.ascii_lowercase + string.digits if c not in "aeiou")
        while True:
            name = prefix + "".join(random.choices(alphabet, k=5))
            if self._get(res, namespace, name) is None:
                return name

    def update(self, res: Resource, obj: Obj, *, status: bool = False) -> Obj:
        """Replace an object (or only its status); Conflict when resourceVersion is stale.

        As in Kubernetes, for kinds with a status subresource the main endpoint ignores
        status changes and the status endpoint ignores everything but status.
        """
        meta_in = obj.get("metadata") or {}
        name = str(meta_in.get("name") or "")
        namespace = str(meta_in.get("namespace") or "") if res.namespaced else ""
        with self._lock:
            old = self._get(res, namespace, name)
            if old is None:
                raise not_found(res, name)
            given = meta_in.get("resourceVersion")
            if given and str(given) != old["metadata"]["resourceVersion"]:
                raise _conflict(res, name)
            new = self._merge_update(res, old, obj, status)
            if new == old:
                return old          # a no-op update writes nothing, as in Kubernetes
            if self._finished_deleting(res, new):
                return self._write(res, new, "DELETED", remove=True)
            return self._write(res, new, "MODIFIED", prev=old)

    @staticmethod
    def _merge_update(res: Resource, old: Obj, obj: Obj, status: bool) -> Obj:
        if status:
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = copy.deepcopy(obj["status"])
            else:
                new.pop("status", None)
            return new
        new = copy.deepcopy(obj)
        if res.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        kept = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "resourceVersion", "namespace", "name")
        for key in kept:
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        if _spec_part(new) != _spec_part(old):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        return new

    def _finished_deleting(self, res: Resource, obj: Obj) -> bool:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return False
        if res.kind == "Namespace":
            return not self._holds_objects(str(meta["name"]))
        return res.kind != "Pod" or meta.get("deletionGracePeriodSeconds") == 0

    def _holds_objects(self, namespace: str) -> bool:
        return self._db.execute("SELECT 1 FROM objects WHERE namespace=? LIMIT 1",
                                (namespace,)).fetchone() is not None

    def delete(self, res: Resource, namespace: str | None, name: str,
               grace_period: int | None = None) -> Obj | None:
        """Delete an object; returns it while it is still terminating, None once it is gone.

        Objects with finalizers, and pods that are bound to the node, are only marked with
        ``deletionTimestamp`` (graceful deletion): the kubelet stops the pod's containers and
        then deletes again with grace period 0; whoever owns a finalizer removes it.
        https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
        """
        with self._lock:
            old = self._get(res, namespace or "", name)
            if old is None:
                raise not_found(res, name)
            meta = old["metadata"]
            graceful = (res.kind == "Pod" and bool((old.get("spec") or {}).get("nodeName"))
                        and grace_period != 0)
            if res.kind == "Namespace":
                # A namespace that still holds objects is Terminating until it is empty
                # (the namespace controller deletes it again then).
                graceful = self._holds_objects(name)
            if not meta.get("finalizers") and not graceful:
                self._write(res, old, "DELETED", remove=True)
                return None
            new = copy.deepcopy(old)
            nmeta = new["metadata"]
            nmeta.setdefault("deletionTimestamp", now())
            if res.kind == "Pod":
                default = (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                wanted = default if grace_period is None else grace_period
                current = nmeta.get("deletionGracePeriodSeconds")
                nmeta["deletionGracePeriodSeconds"] = (
                    wanted if current is None else min(int(current), int(wanted)))
            else:
                nmeta.setdefault("deletionGracePeriodSeconds", 0)
            if res.kind == "Namespace":
                new.setdefault("status", {})["phase"] = "Terminating"
            if new == old:
                return old
            if self._finished_deleting(res, new):
                self._write(res, new, "DELETED", remove=True)
                return None
            return self._write(res, new, "MODIFIED", prev=old)

    def check(self) -> builtins.list[str]:
        """Integrity problems (empty when sound): SQLite's own check plus kompy's invariants."""
        problems: builtins.list[str] = []
        with self._lock:
            result = self._db.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                problems.append(f"sqlite: {result}")
            top = self._read_meta("rv")
            for resource, namespace, name, rv, body in self._db.execute(
                    "SELECT resource, namespace, name, rv, body FROM objects"):
                obj = json.loads(body)
                if obj["metadata"].get("resourceVersion") != str(rv) or rv > top:
                    problems.append(f"{resource}/{namespace}/{name}: version {rv} vs {top}")
            last = self._db.execute("SELECT max(rv) FROM events").fetchone()[0]
            if last is not None and last != top:
                problems.append(f"event log ends at {last}, counter at {top}")
        return problems
