"""kubectl's output: tables padded as its tabwriter pads them, and ``-o yaml|json|name``."""

from __future__ import annotations

import json
from typing import Any

from kompy.client import resources
from kompy.client.objects import Obj, meta
from kompy.client.tables import Row
from kompy.yaml import plain as plain_yaml


def format_table(rows: list[Row], widths: list[int] | None = None) -> str:
    """Columns padded to the widest cell plus three spaces, as kubectl's tabwriter does."""
    if not rows:
        return ""
    widths = widths or column_widths(rows)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell
                 for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def column_widths(rows: list[Row]) -> list[int]:
    return [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]


def render(objs: list[Obj], output: str, single: bool) -> str:
    """``-o yaml|json|name``: one object as itself, several as a ``v1/List``."""
    if output == "name":
        return "".join(f"{resources.for_object(o).qualified}/{meta(o).get('name')}\n"
                       for o in objs)
    # As kubectl (--show-managed-fields=false): managedFields are for tools, not readers.
    objs = [_without_managed_fields(o) for o in objs]
    data: Any = objs[0] if single and objs else {"apiVersion": "v1", "kind": "List",
                                                 "metadata": {}, "items": objs}
    if output == "json":
        return json.dumps(data, indent=4) + "\n"
    return plain_yaml.dump(data)


def _without_managed_fields(obj: Obj) -> Obj:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
