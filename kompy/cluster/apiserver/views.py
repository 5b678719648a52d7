"""Alternative views the API server gives of its objects: kubectl's server-side tables.
(The OpenAPI documents are openapi.py's.)"""

from __future__ import annotations

from typing import Any

from kompy.client import tables


def as_table(plural: str, items: list[dict[str, Any]], list_meta: dict[str, Any]
             ) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table with kompy's (kubectl's) columns for ``kubectl get``.
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
            "rows": [{"cells": row, "object": {
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": item.get("metadata") or {}}}
                for row, item in zip(rows[1:], items, strict=True)]}


def table_event(plural: str, event: dict[str, Any]) -> dict[str, Any]:
    if event["type"] in ("ERROR", "BOOKMARK"):
        return event
    return {"type": event["type"], "object": as_table(plural, [event["object"]], {})}
