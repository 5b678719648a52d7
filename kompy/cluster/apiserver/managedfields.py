"""Field management and server-side apply, as kube-apiserver's fieldmanager does them.

Every write records who set which fields in ``metadata.managedFields``: one entry per
manager, operation (``Apply`` or ``Update``) and subresource, with the time and the set of
fields (``fieldsV1``). https://kubernetes.io/docs/reference/using-api/server-side-apply/

* **Update** (create, replace, merge/strategic/JSON patches, status writes): the manager
  takes the fields this write adds or changes, from whoever had them; fields the write
  removes are dropped from every manager. Never a conflict.
* **Apply** (``PATCH`` with ``application/apply-patch+yaml``): the configuration is merged
  into the live object by the schema's merge rules (typed.py), and the applier's set
  becomes exactly the fields the configuration names. Fields it applied before and names
  no more are removed from the object, unless another manager still owns them. A change to
  a field another manager owns is a conflict (409, listing each field and manager, as
  kube-apiserver words it) unless ``force=true``, which takes the field over.
  The first apply to an object without managed fields gives its existing fields to
  ``before-first-apply``, as upstream.

Never owned: ``apiVersion``, ``kind`` and the metadata the server keeps (name, namespace,
uid, resourceVersion, generation, creationTimestamp, managedFields, deletion marks). A write
through the main resource of a kind with a status subresource owns no status, and a write
through ``/status`` only status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kompy.client.errors import ApiError, Conflict
from kompy.client.objects import Obj, copy_json
from kompy.client.resources import Resource
from kompy.cluster.apiserver import fieldpaths, typed
from kompy.cluster.apiserver.fieldpaths import FieldSet, Path
from kompy.cluster.apiserver.schemas import SchemaRegistry

APPLY, UPDATE = "Apply", "Update"
BEFORE_FIRST_APPLY = "before-first-apply"
SERVER_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation",
                   "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp",
                   "deletionGracePeriodSeconds")
Key = tuple[str, str, str]           # manager, operation, subresource


@dataclass
class Entry:
    manager: str
    operation: str
    subresource: str
    api_version: str
    time: str | None = None
    fields: FieldSet = field(default_factory=set)

    @property
    def key(self) -> Key:
        return (self.manager, self.operation, self.subresource)

    def shown(self) -> str:
        """The manager as conflict messages print it (kube-apiserver's printManager)."""
        out = f'"{self.manager}"'
        if self.subresource:
            out += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode(obj: Obj | None) -> dict[Key, Entry]:
    out: dict[Key, Entry] = {}
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict) or not raw.get("manager") and not raw.get("fieldsV1"):
            continue
        entry = Entry(str(raw.get("manager") or ""), str(raw.get("operation") or UPDATE),
                      str(raw.get("subresource") or ""), str(raw.get("apiVersion") or ""),
                      raw.get("time"), fieldpaths.from_fields_v1(raw.get("fieldsV1") or {}))
        previous = out.get(entry.key)
        if previous is not None:
            entry.fields |= previous.fields
        out[entry.key] = entry
    return out


def _order(entry: Obj) -> tuple[str, str, str, str]:
    """kube-apiserver's order of entries: Apply before Update, then oldest first."""
    return (str(entry.get("operation") or ""), str(entry.get("time") or ""),
            str(entry.get("manager") or ""), str(entry.get("subresource") or ""))


def _entry_json(entry: Entry) -> Obj:
    one: Obj = {"manager": entry.manager, "operation": entry.operation,
                "apiVersion": entry.api_version}
    if entry.time:
        one["time"] = entry.time
    one["fieldsType"] = "FieldsV1"
    one["fieldsV1"] = fieldpaths.to_fields_v1(entry.fields)
    if entry.subresource:
        one["subresource"] = entry.subresource
    return one


def encode(entries: dict[Key, Entry]) -> list[Obj]:
    return sorted((_entry_json(e) for e in entries.values() if e.fields), key=_order)


def _view(obj: Obj | None, res: Resource, subresource: str) -> Obj:
    """The part of an object whose fields are owned through this endpoint."""
    if obj is None:
        return {}
    if subresource == "status":
        return {"status": obj["status"]} if obj.get("status") is not None else {}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if res.has_status:
        out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
        if meta:
            out["metadata"] = meta
        else:
            out.pop("metadata")
    return out


def keep_times_of_a_noop(old: Obj, new: Obj) -> None:
    """kube-apiserver's IgnoreManagedFieldsTimestampsTransformer (fieldmanager/equality.go):
    when a write changes nothing but the times of managed fields entries, ``new`` keeps the
    old entries, so that it writes nothing and bumps no resourceVersion (a second apply of
    the same configuration is a no-op). Entries are matched by manager, operation and
    subresource (upstream pairs them by position, which the time order can shuffle)."""
    before = (old.get("metadata") or {}).get("managedFields") or []
    after = (new.get("metadata") or {}).get("managedFields") or []
    if not after or len(before) != len(after) or before == after:
        return
    if _timeless(before) != _timeless(after):
        return
    rest_old = {**old, "metadata": {k: v for k, v in old["metadata"].items()
                                    if k != "managedFields"}}
    rest_new = {**new, "metadata": {k: v for k, v in new["metadata"].items()
                                    if k != "managedFields"}}
    if rest_old == rest_new:
        new["metadata"]["managedFields"] = copy_json(before)


def _timeless(entries: list[Obj]) -> dict[tuple[Any, Any, Any], Obj]:
    return {(e.get("manager"), e.get("operation"), e.get("subresource")):
            {k: v for k, v in e.items() if k != "time"} for e in entries
            if isinstance(e, dict)}


def conflict_error(conflicts: dict[Key, FieldSet], entries: dict[Key, Entry]) -> ApiError:
    """kube-apiserver's apply conflict: a 409 whose causes name each field and manager."""
    pairs = sorted(((entries[key], path) for key, paths in conflicts.items()
                    for path in paths), key=lambda pair: (pair[0].manager, pair[1]))
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {e.shown()}",
               "field": fieldpaths.render(path)} for e, path in pairs]
    if len(pairs) == 1:
        entry, path = pairs[0]
        message = (f"Apply failed with 1 conflict: conflict with {entry.shown()}: "
                   f"{fieldpaths.render(path)}")
    else:
        lines: list[str] = []
        for key in sorted(conflicts, key=lambda k: entries[k].manager):
            lines.append(f"conflicts with {entries[key].shown()}:")
            lines += [f"- {fieldpaths.render(p)}" for p in sorted(conflicts[key])]
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return Conflict(409, "Conflict", message, body={"details": {"causes": causes}})


class FieldManager:
    """Managed fields of every write; the schemas come from the server's registry."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.schemas = typed.Schemas(registry.definitions())

    def node(self, res: Resource) -> typed.Node:
        name = self.registry.definition_name(res)
        return self.schemas.root(name) if name else typed.Node("map")

    def update(self, res: Resource, old: Obj | None, new: Obj, manager: str,
               subresource: str = "") -> None:
        """Set ``new``'s managedFields for an Update by ``manager`` (``old`` is None for a
        create). As kube-apiserver: managedFields the client sent are the base the change
        is recorded on (``[{}]`` resets them), else the live object's; a subresource
        write always starts from the live object's.

        Every write pays this, so only the entries the change touches are decoded and
        written again; the others are kept as they are."""
        meta = new.setdefault("metadata", {})
        given = meta.get("managedFields")
        base = (given if given and not subresource else
                ((old or {}).get("metadata") or {}).get("managedFields")) or []
        change = typed.compare(_view(old, res, subresource), _view(new, res, subresource),
                               self.node(res))
        changed = change.added | change.modified
        touched = changed | change.removed
        key = (manager, UPDATE, subresource)
        kept: list[Obj] = []
        mine: FieldSet = set()
        mine_entry: Obj | None = None
        for raw in base:
            if not isinstance(raw, dict) or not raw.get("manager"):
                continue                        # [{}]: a reset
            if (raw["manager"], raw.get("operation") or UPDATE,
                    raw.get("subresource") or "") == key:
                mine |= fieldpaths.from_fields_v1(raw.get("fieldsV1") or {})
                mine_entry = raw
                continue
            tree = raw.get("fieldsV1") or {}
            if not any(fieldpaths.member(tree, path) for path in touched):
                kept.append(raw)
                continue
            rest = fieldpaths.from_fields_v1(tree) - touched
            if rest:
                kept.append({**raw, "fieldsV1": fieldpaths.to_fields_v1(rest)})
        if touched:
            mine = (mine - change.removed) | changed
            if mine:
                kept.append(_entry_json(Entry(manager, UPDATE, subresource, res.api_version,
                                              now(), mine)))
        elif mine_entry is not None:
            kept.append(mine_entry)
        if kept:
            meta["managedFields"] = sorted(kept, key=_order)
        else:
            meta.pop("managedFields", None)

    def apply(self, res: Resource, live: Obj | None, config: Obj, manager: str,
              force: bool, subresource: str = "") -> Obj:
        """The object after applying ``config`` as ``manager``, with its managedFields;
        Conflict (409) when it changes fields others own and ``force`` is off."""
        node = self.node(res)
        entries = decode(live)
        if live is not None and not (live.get("metadata") or {}).get("managedFields"):
            first = typed.field_set(_view(live, res, subresource), node)
            if first:
                entries[(BEFORE_FIRST_APPLY, UPDATE, "")] = Entry(
                    BEFORE_FIRST_APPLY, UPDATE, "", res.api_version, None, first)
        current = _view(live, res, subresource)
        wanted = _view(config, res, subresource)
        merged = typed.merge(current, wanted, node)
        key = (manager, APPLY, subresource)
        last = entries[key].fields if key in entries else set()
        entries[key] = Entry(manager, APPLY, subresource, res.api_version, now(),
                             typed.field_set(wanted, node))
        self._prune(merged, last - entries[key].fields, entries, node)
        change = typed.compare(current, merged, node)
        changed = change.added | change.modified
        conflicts = {k: e.fields & changed for k, e in entries.items()
                     if k != key and e.fields & changed}
        if conflicts and not force:
            raise conflict_error(conflicts, entries)
        for other in entries.values():
            if other.key != key:
                other.fields -= changed
            other.fields -= change.removed
        return self._result(res, live, config, merged, entries, subresource)

    def _prune(self, merged: Obj, dropped: FieldSet, entries: dict[Key, Entry],
               node: typed.Node) -> None:
        """Remove what the applier applied before and names no more, with the struct
        fields on the way to it (structured-merge-diff's EnsureNamedFieldsAreMembers),
        unless some manager (the applier's other entries included) still owns it or
        something under it. Top-level fields (metadata, spec) always stay."""
        if not dropped:
            return
        owned = fieldpaths.with_prefixes(p for e in entries.values() for p in e.fields)
        candidates = set(dropped)
        for path in dropped:
            candidates.update(typed.named_fields(path, merged, node))
        removed: list[Path] = []
        # Outermost first: an item that goes takes its fields with it (removing a key
        # field first would leave the item unfindable).
        for path in sorted(candidates, key=len):
            if path in owned or any(path[:len(r)] == r for r in removed):
                continue
            typed.remove(merged, path, node)
            removed.append(path)

    @staticmethod
    def _result(res: Resource, live: Obj | None, config: Obj, merged: Obj,
                entries: dict[Key, Entry], subresource: str) -> Obj:
        if subresource == "status":
            out = copy_json(live) if live is not None else {}
            if "status" in merged:
                out["status"] = merged["status"]
            else:
                out.pop("status", None)
        else:
            out = {"apiVersion": config.get("apiVersion") or res.api_version,
                   "kind": config.get("kind") or res.kind, **merged}
            meta = out.setdefault("metadata", {})
            kept = (live or {}).get("metadata") or {}
            given = config.get("metadata") or {}
            for name in SERVER_METADATA:
                if name in kept:
                    meta[name] = kept[name]
                elif name in given and name in ("name", "namespace"):
                    meta[name] = given[name]
            if live is not None and res.has_status and "status" in live:
                out["status"] = copy_json(live["status"])
        encoded = encode(entries)
        if encoded:
            out.setdefault("metadata", {})["managedFields"] = encoded
        else:
            out.setdefault("metadata", {}).pop("managedFields", None)
        return out

