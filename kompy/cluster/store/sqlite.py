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
* Watches resume from any ``resourceVersion`` still in the event log; an older version
  answers 410 Gone (as etcd compaction does). The log is compacted to at most ``history``
  revisions and ``log_bytes`` bytes here, and to a time window by maintenance.py; the file
  shrinks back (WAL checkpoints, incremental vacuum) there too.
* Bounds: an object over ``MAX_OBJECT_BYTES`` (etcd's request limit) is refused, and the
  watch cache holds at most ``CACHE_BYTES`` of changes, so neither a big object nor a burst
  of them can grow the file or the daemon's memory without end.
* Optimistic concurrency: an update carrying a stale resourceVersion raises Conflict.
* Thread safety: one connection guarded by one lock; the API server's threads serialise on it
  (SQLite serialises writers anyway, and reads here take microseconds).
* Watch cache: recent changes are also kept in memory (watchcache.py).
"""

from __future__ import annotations

import builtins
import json
import random
import sqlite3
import string
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kompy.client.errors import ApiError, Conflict, Gone, Invalid, NotFound
from kompy.client.objects import Obj, copy_json
from kompy.client.resources import Resource
from kompy.cluster.store import deletion
from kompy.cluster.store.watchcache import Change, WatchCache

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

# The event log keeps at most this many revisions and this many bytes of objects; past the
# byte budget the oldest half of it goes (a burst of big objects must not fill the disk).
HISTORY = 10_000
LOG_BYTES = 64 * 1024 * 1024
# etcd's default --max-request-bytes: the largest object kube-apiserver can store.
MAX_OBJECT_BYTES = 1536 * 1024
# After a checkpoint SQLite truncates the WAL file to this (it grows during one big
# transaction, and is otherwise reused from its start without shrinking).
WAL_LIMIT_BYTES = 4 * 1024 * 1024

# The kinds whose registry strategy keeps metadata.generation in kube-apiserver (bumped on
# spec changes; controllers report status.observedGeneration). Others have none.
GENERATION_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                              "CronJob", "HorizontalPodAutoscaler", "Ingress",
                              "NetworkPolicy", "IngressClass"})
# Parts of an object that are not "spec": a change elsewhere bumps metadata.generation.
_NOT_SPEC = ("metadata", "status", "kind", "apiVersion")


def _utf8_size(obj: Obj) -> int:
    """The object's JSON size as etcd would count it (the store's own JSON escapes every
    non-ASCII character, which a protobuf-encoding kube-apiserver does not)."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "replace"))


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


def too_large() -> ApiError:
    # What etcd answers and kube-apiserver passes on for an object over --max-request-bytes.
    return ApiError(413, "RequestEntityTooLarge", "etcdserver: request is too large",
                    hint=f"Kubernetes stores objects of at most {MAX_OBJECT_BYTES // 1024} KiB; "
                         "keep large data in a volume, not in the object")


def _row_bytes(body: str, prev: str | None) -> int:
    return len(body) + (len(prev) if prev else 0)


class Store:
    def __init__(self, path: Path | str, *, history: int = HISTORY,
                 log_bytes: int = LOG_BYTES) -> None:
        self.path = str(path)
        self.history = history
        self.log_bytes = log_bytes
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30)
        fresh = self._db.execute("PRAGMA page_count").fetchone()[0] == 0
        if fresh:
            # Free pages can then be given back to the file system (maintenance.py); it must
            # be chosen before the first table exists.
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "prev" not in columns:    # a store written by an earlier kompy
            self._db.execute("ALTER TABLE events ADD COLUMN prev TEXT")
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # A store of an earlier kompy: switching takes one full VACUUM, once.
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("VACUUM")
        self._writes = 0
        self._rv = self._read_meta("rv")
        self._compacted = self._read_meta("compacted")
        self._log_size = int(self._db.execute(
            "SELECT coalesce(sum(length(body) + coalesce(length(prev), 0)), 0) FROM events"
        ).fetchone()[0])
        self._cache = WatchCache(self._rv)
        self._resource_changed: dict[str, threading.Condition] = {}
        if self._log_size > self.log_bytes:
            self.compact(self._budget_floor())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def atomically(self) -> AbstractContextManager[bool]:
        """Held around several reads and writes (``with store.atomically():``), they are one
        step for every other reader and writer: quota admission reads a quota, stores the
        object and charges the quota with no recount between (the lock is re-entrant)."""
        return self._lock

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

    def keys_older_than(self, res: Resource, cutoff: str, paths: Sequence[str]
                        ) -> builtins.list[tuple[str, str]]:
        """(namespace, name) of the objects of ``res`` whose time stamp sorts before
        ``cutoff`` (``YYYY-MM-DDTHH:MM:SS``, UTC): the first of the JSON ``paths`` (``$.a.b``)
        that an object has and is not empty. SQLite reads the stamps in place: a sweep that
        parsed every object held all of them in memory at once, every minute (the daemon's
        RSS grew with the Events kept, issue #12's soak)."""
        stamp = "coalesce(" + ", ".join("nullif(json_extract(body, ?), '')" for _ in paths) + ")"
        with self._lock:
            rows = self._db.execute(
                f"SELECT namespace, name FROM objects WHERE resource=? "  # noqa: S608 - no input
                f"AND substr({stamp}, 1, 19) < ? ORDER BY namespace, name",
                (res.plural, *paths, cutoff)).fetchall()
        return [(str(ns), str(name)) for ns, name in rows]

    def events_since(self, res: Resource, since: int, namespace: str | None = None,
                     limit: int = 500) -> tuple[builtins.list[Change], int]:
        """Changes to ``res`` after version ``since``, and the version they bring a watcher
        up to (the store's version when nothing is left to read); Gone if history no longer
        reaches ``since``."""
        with self._lock:
            if since < self._compacted:
                raise Gone(410, "Expired", f"too old resource version: {since} "
                                           f"({self._compacted})")
            if self._cache.covers(res.plural, since):
                return self._cache.since(res.plural, since, namespace, limit, self._rv)
            query = ("SELECT rv, type, body, prev, namespace FROM events "
                     "WHERE resource=? AND rv>?")
            args: builtins.list[Any] = [res.plural, since]
            if namespace:
                query += " AND namespace=?"
                args.append(namespace)
            rows = self._db.execute(query + " ORDER BY rv LIMIT ?", (*args, limit)).fetchall()
            top = int(rows[-1][0]) if len(rows) == limit else self._rv
        return [Change(int(r[0]), str(r[1]), str(r[2]), str(r[3]) if r[3] else None,
                       str(r[4])) for r in rows], top

    def wait_for_change(self, after: int, timeout: float, resource: str | None = None,
                        stop: threading.Event | None = None) -> bool:
        """Block until a write after version ``after`` (True) or ``timeout`` (False);
        with ``resource`` (a plural), only a write of that resource counts. ``stop`` set
        (checked under the lock, so a ``wake`` right after setting it is never missed) ends
        the wait at once."""
        with self._lock:
            condition = self._changed if resource is None else self._condition(resource)
            if self._version_of(resource) > after:
                return True
            if stop is not None and stop.is_set():
                return False
            condition.wait(timeout)
            return self._version_of(resource) > after

    def _version_of(self, resource: str | None) -> int:
        return self._rv if resource is None else self._cache.latest(resource)

    def version_of(self, resource: str) -> int:
        """The version of the last write of ``resource`` (a plural) this process saw, 0 for
        none: a cache of derived data (the RBAC authorizer's index) is fresh while it holds."""
        with self._lock:
            return self._cache.latest(resource)

    def _condition(self, resource: str) -> threading.Condition:
        if resource not in self._resource_changed:
            self._resource_changed[resource] = threading.Condition(self._lock)
        return self._resource_changed[resource]

    def wake(self, resource: str | None = None) -> None:
        """Wake the watchers waiting on ``resource`` (a plural; None: every watcher), so they
        look at their stop flags: a client went away, or the server is stopping."""
        with self._lock:
            if resource is None:
                self._changed.notify_all()
                for condition in self._resource_changed.values():
                    condition.notify_all()
            elif resource in self._resource_changed:
                self._resource_changed[resource].notify_all()

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
            if len(body) > MAX_OBJECT_BYTES and not remove and _utf8_size(obj) > \
                    MAX_OBJECT_BYTES:
                raise too_large()
            prev_body = json.dumps(prev, separators=(",", ":")) if prev else None
            if remove:
                self._db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND "
                                 "name=?", (res.plural, namespace, meta["name"]))
            else:
                self._db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)",
                                 (res.plural, namespace, meta["name"], rv, body))
            self._db.execute("INSERT INTO events VALUES (?,?,?,?,?,?)",
                             (rv, res.plural, namespace, event, body, prev_body))
            size = _row_bytes(body, prev_body)
            self._writes += 1
            floor = rv - self.history if self._writes % 500 == 0 else 0
            if self._log_size + size > self.log_bytes:
                floor = max(floor, self._budget_floor(size))
            freed = self._delete_events(floor) if floor > self._compacted else 0
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._rv = rv
        self._log_size += size - freed
        if floor > self._compacted:
            self._compacted = floor
            self._cache.trim(floor)
        # The cache holds the JSON text (callers go on using, and changing, ``obj``).
        self._cache.add(res.plural, Change(rv, event, body, prev_body, namespace))
        self._changed.notify_all()
        if res.plural in self._resource_changed:
            self._resource_changed[res.plural].notify_all()
        return obj

    def _budget_floor(self, incoming: int = 0) -> int:
        """The version to compact to so that the log keeps about half its byte budget."""
        excess = self._log_size + incoming - self.log_bytes // 2
        floor = self._compacted
        for rv, size in self._db.execute(
                "SELECT rv, length(body) + coalesce(length(prev), 0) FROM events "
                "WHERE rv>? ORDER BY rv", (self._compacted,)):
            if excess <= 0:
                break
            floor, excess = int(rv), excess - int(size)
        return floor

    def _delete_events(self, floor: int) -> int:
        """Inside a transaction: drop the events up to ``floor``; the bytes freed."""
        freed = int(self._db.execute(
            "SELECT coalesce(sum(length(body) + coalesce(length(prev), 0)), 0) FROM events "
            "WHERE rv<=?", (floor,)).fetchone()[0])
        self._db.execute("DELETE FROM events WHERE rv<=?", (floor,))
        self._db.execute("UPDATE meta SET value=? WHERE key='compacted'", (floor,))
        return freed

    # -- housekeeping (maintenance.py calls these) -----------------------------------------

    def compact(self, floor: int) -> int:
        """Forget the changes up to version ``floor`` (etcd's compaction): a watch from an
        older version gets 410 Gone and its client lists again. The compacted version."""
        with self._lock:
            floor = min(floor, self._rv)
            if floor <= self._compacted:
                return self._compacted
            self._db.execute("BEGIN IMMEDIATE")
            try:
                freed = self._delete_events(floor)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._log_size -= freed
            self._compacted = floor
            self._cache.trim(floor)
            return floor

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it to zero bytes. It waits for
        readers of other connections (another process reading the file) only briefly: the
        next pass tries again."""
        with self._lock:
            self._db.execute("PRAGMA busy_timeout=200")
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                self._db.execute("PRAGMA busy_timeout=30000")

    def vacuum_if_sparse(self, min_free_bytes: int = 1024 * 1024) -> bool:
        """Give free pages back to the file system when they are most of the file (and
        more than ``min_free_bytes``); whether it did."""
        with self._lock:
            free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
            total = int(self._db.execute("PRAGMA page_count").fetchone()[0])
            page = int(self._db.execute("PRAGMA page_size").fetchone()[0])
            if free * 2 <= total or free * page < min_free_bytes:
                return False
            # executescript steps the statement to its end; execute() would free one page
            # per call (each step of incremental_vacuum frees one).
            self._db.executescript("PRAGMA incremental_vacuum;")
        self.checkpoint()
        return True

    def sizes(self) -> dict[str, int]:
        """Bytes on disk and in memory: what the soak benchmark and the tests watch."""
        def size(suffix: str) -> int:
            try:
                return Path(self.path + suffix).stat().st_size
            except OSError:
                return 0
        with self._lock:
            return {"db": size(""), "wal": size("-wal"), "log": self._log_size,
                    "cache": self._cache.size(),
                    "events": int(self._db.execute("SELECT count(*) FROM events"
                                                   ).fetchone()[0])}

    def migrate(self, name: str, fix: Callable[[str, Obj], bool]) -> int | None:
        """Rewrite the stored objects once, for a change of what the store holds (``name``
        says which): ``fix(plural, obj)`` changes an object in place and says whether it
        did. None when this store had it already; else how many objects it rewrote.

        Each rewritten object gets a new version and a MODIFIED event, as any write (a
        watcher resuming from before sees the new form; caches stay true), and keeps its
        generation: its meaning did not change. All of it, and the record that it is done,
        is one transaction: a daemon killed half-way leaves the store as it was (WAL rolls
        the transaction back), and the next start does it again from the start. Called before
        the API serves, so no controller sees half of it (a Deployment migrated without its
        ReplicaSets would roll)."""
        key = f"migrated:{name}"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT 1 FROM meta WHERE key=?", (key,)).fetchone():
                    self._db.execute("ROLLBACK")
                    return None
                rows = self._db.execute(
                    "SELECT resource, namespace, name, body FROM objects ORDER BY rv"
                ).fetchall()
                rv, size = self._rv, 0
                written: builtins.list[tuple[str, Change]] = []
                for resource, namespace, obj_name, body in rows:
                    obj = json.loads(body)
                    if not fix(str(resource), obj):
                        continue
                    rv += 1
                    obj["metadata"]["resourceVersion"] = str(rv)
                    new_body = json.dumps(obj, separators=(",", ":"))
                    self._db.execute(
                        "UPDATE objects SET rv=?, body=? WHERE resource=? AND namespace=? "
                        "AND name=?", (rv, new_body, resource, namespace, obj_name))
                    self._db.execute("INSERT INTO events VALUES (?,?,?,?,?,?)",
                                     (rv, resource, namespace, "MODIFIED", new_body, body))
                    size += _row_bytes(new_body, body)
                    written.append((str(resource),
                                    Change(rv, "MODIFIED", new_body, body, str(namespace))))
                self._db.execute("UPDATE meta SET value=? WHERE key='rv'", (rv,))
                self._db.execute("INSERT INTO meta VALUES (?, ?)", (key, rv))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._rv = rv
            self._log_size += size
            for resource, change in written:
                self._cache.add(resource, change)
            self._changed.notify_all()
        return len(written)

    def create(self, res: Resource, obj: Obj, *, dry_run: bool = False) -> Obj:
        """Store a new object; ``dry_run``: everything but the write (the object as it
        would be, without a resourceVersion), as kube-apiserver's ``dryRun=All``."""
        obj = copy_json(obj)
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
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
            if res.kind in GENERATION_KINDS:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(key, None)
            if dry_run:
                meta.pop("resourceVersion", None)
                return obj
            return self._write(res, obj, "ADDED")

    def generate_name(self, res: Resource, namespace: str, prefix: str) -> str:
        """A free name ``prefix`` + 5 random characters (a create may still race for it:
        the create then fails with AlreadyExists, as upstream's may)."""
        with self._lock:
            return self._generate_name(res, namespace, prefix)

    def _generate_name(self, res: Resource, namespace: str, prefix: str) -> str:
        # Kubernetes appends 5 random characters from a vowel-free alphabet.
        alphabet = "".join(c for c in string.ascii_lowercase + string.digits if c not in "aeiou")
        while True:
            name = prefix + "".join(random.choices(alphabet, k=5))
            if self._get(res, namespace, name) is None:
                return name

    def update(self, res: Resource, obj: Obj, *, status: bool = False,
               dry_run: bool = False,
               before_write: Callable[[Obj, Obj], None] | None = None) -> Obj:
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
            if before_write is not None:
                before_write(old, new)      # (old, new) under the lock: managed fields
            if new == old or dry_run:
                return new          # a no-op update writes nothing, as in Kubernetes
            if self._finished_deleting(res, new):
                return self._write(res, new, "DELETED", remove=True)
            return self._write(res, new, "MODIFIED", prev=old)

    @staticmethod
    def _merge_update(res: Resource, old: Obj, obj: Obj, status: bool) -> Obj:
        if status:
            new: Obj = copy_json(old)
            if "status" in obj:
                new["status"] = copy_json(obj["status"])
            else:
                new.pop("status", None)
            return new
        new = copy_json(obj)
        if res.has_status:
            if "status" in old:
                new["status"] = copy_json(old["status"])
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
        if res.kind in GENERATION_KINDS and _spec_part(new) != _spec_part(old):
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
               grace_period: int | None = None, *, dry_run: bool = False) -> Obj | None:
        """Delete an object; returns it while it is still terminating, None once it is gone.

        Objects with finalizers, and pods that a node runs, are only marked with
        ``deletionTimestamp`` (graceful deletion, kompy/cluster/store/deletion.py): the
        kubelet stops the pod's containers and then deletes again with grace period 0;
        whoever owns a finalizer removes it. A second DELETE of a pod may only shorten its
        grace period, which moves ``deletionTimestamp`` earlier.
        https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
        """
        with self._lock:
            old = self._get(res, namespace or "", name)
            if old is None:
                raise not_found(res, name)
            meta = old["metadata"]
            if res.kind == "Pod":
                marks = self._pod_deletion(old, grace_period)
                if marks is None:   # a deletion pending already, not shortened: no change
                    return old
                keep = bool(meta.get("finalizers")) or marks.grace > 0
            else:
                marks = deletion.Deletion(str(meta.get("deletionTimestamp") or now()), 0)
                # A namespace that still holds objects is Terminating until it is empty
                # (the namespace controller deletes it again then).
                keep = bool(meta.get("finalizers")) or (
                    res.kind == "Namespace" and self._holds_objects(name))
            if not keep:
                if not dry_run:
                    self._write(res, old, "DELETED", remove=True)
                return None
            new: Obj = copy_json(old)
            nmeta = new["metadata"]
            nmeta["deletionTimestamp"] = marks.timestamp
            nmeta["deletionGracePeriodSeconds"] = marks.grace
            if res.kind == "Namespace":
                new.setdefault("status", {})["phase"] = "Terminating"
            if new == old or dry_run:
                return new
            if self._finished_deleting(res, new):
                self._write(res, new, "DELETED", remove=True)
                return None
            return self._write(res, new, "MODIFIED", prev=old)

    @staticmethod
    def _pod_deletion(pod: Obj, grace_period: int | None) -> deletion.Deletion | None:
        """The pod's deletion marks after this DELETE (deletion.py); None when a deletion
        is pending already and this one does not shorten it."""
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            moved = deletion.shortened(meta, grace_period)
            if moved is None and meta.get("deletionGracePeriodSeconds"):
                return None
            # Marked without a grace period (only its finalizers hold it): it goes now.
            return moved or deletion.Deletion(str(meta["deletionTimestamp"]), 0)
        return deletion.first_pod_deletion(pod, grace_period, datetime.now(UTC))

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
