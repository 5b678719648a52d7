"""Alternative views the API server gives of its objects: kubectl's server-side tables and
a minimal OpenAPI v3 discovery."""

from __future__ import annotations

from typing import Any

from kompy.client import resources, tables
from kompy.cluster.apiserver.handlers import VERSION


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


def openapi_v3(path: str) -> dict[str, Any]:
    """OpenAPI v3 discovery with no schemas: kubectl's client-side validation then treats
    every kind as schemaless (as CRDs without a schema) and kompy's own validation answers
    422 instead. https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3"""
    if path == "/openapi/v3":
        groups = {r.group_version for r in resources.RESOURCES}
        return {"paths": {
            (f"apis/{gv}" if "/" in gv else f"api/{gv}"): {
                "serverRelativeURL": f"/openapi/v3/{'apis' if '/' in gv else 'api'}/{gv}"
                                     f"?hash=kompy"}
            for gv in sorted(groups)}}
    gv = path.split("/", 4)[-1]
    schemas = {
        f"kompy.{r.group or 'core'}.{r.version}.{r.kind}": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [
                {"group": r.group, "version": r.version, "kind": r.kind}]}
        for r in resources.RESOURCES if r.group_version == gv}
    # kubectl looks for a PATCH operation of the kind that takes ``fieldValidation``; then it
    # leaves validation to the server (cli-runtime's queryParamVerifierV3).
    paths = {
        r.path("{namespace}" if r.namespaced else None, "{name}"): {"patch": {
            "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version,
                                                "kind": r.kind},
            "parameters": [{"name": "fieldValidation", "in": "query",
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}}}}
        for r in resources.RESOURCES if r.group_version == gv}
    return {"openapi": "3.0.0", "info": {"title": "kompy", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": schemas}}
