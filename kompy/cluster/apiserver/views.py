"""Alternative views the API server gives of its objects: kubectl's server-side tables.
(The OpenAPI documents are openapi.py's.)"""

from __future__ import annotations

from typing import Any

from kompy.client import tables


def as_table(plural: str, items: list[dict[str, Any]], list_meta: dict[str, Any],
             include_object: str | None = None) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table with kompy's (kubectl's) columns for ``kubectl get``; each
    row carries the object's metadata, or the whole object when ``includeObject=Object``
    asks (``kubectl get --sort-by`` sorts on it), or nothing for ``None``.
    https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
    """
    rows = tables.table_rows(plural, items, wide=True)
    narrow = len(tables.table_rows(plural, [], wide=False)[0])
    header = rows[0]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": [
                {"name": name.title() if name != "NAME" else "Name", "type": "string",
                 "format": "name" if name == "NAME" else "", "description": "",
                 "priority": 0 if i < narrow else 1}
                for i, name in enumerate(header)],
            "rows": [{"cells": row, "object": _row_object(item, include_object)}
                     for row, item in zip(rows[1:], items, strict=True)]}


def _row_object(item: dict[str, Any], include: str | None) -> dict[str, Any] | None:
    if include == "Object":
        return item
    if include == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": item.get("metadata") or {}}


def table_event(plural: str, event: dict[str, Any], include_object: str | None = None
                ) -> dict[str, Any]:
    if event["type"] in ("ERROR", "BOOKMARK"):
        return event
    return {"type": event["type"], "object": as_table(plural, [event["object"]], {},
                                                      include_object)}
