"""Secret values kept out of ``kompy check``'s diffs.

A stale Secret manifest's diff would print its ``data``/``stringData`` values (base64 is not
encryption) to a terminal and to CI logs. Each value line of such a block is replaced by a
marker keyed with a per-run random key: the same value gives the same marker within one run,
so unchanged lines stay out of the diff and a changed value still shows as changed, but a
marker cannot be matched against guessed passwords later.

YAML manifests (kompy writes block style, one object per document) are redacted line by line
(a flow-style ``data: {...}`` on one line is redacted whole); JSON manifests are parsed,
redacted and printed again as kompy prints JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any

_RUN_KEY = secrets.token_bytes(32)
_DOC_SEPARATOR = re.compile(r"^---\s*$")
_SECRET_KIND = re.compile(r"^kind:\s*['\"]?Secret['\"]?\s*$")
_BLOCK = re.compile(r"^(data|stringData):(.*)$")
_ENTRY = re.compile(r"^(\s+[^:#\s][^:]*:)\s*(.*)$")


def redact_secret_values(text: str) -> str:
    """``text`` with the values of every Secret's data and stringData replaced by markers."""
    if text.lstrip().startswith(("{", "[")):
        return _redact_json(text)
    docs: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if _DOC_SEPARATOR.match(line):
            docs.append([line])
        else:
            docs[-1].append(line)
    return "".join("".join(_redact_doc(doc)) for doc in docs)


def _redact_doc(lines: list[str]) -> list[str]:
    if not any(_SECRET_KIND.match(line) for line in lines):
        return lines
    out: list[str] = []
    inside = False
    for line in lines:
        body = line.rstrip("\n")
        ending = line[len(body):]
        block = _BLOCK.match(body)
        if block:
            inline = block.group(2).strip()
            inside = not inline
            out.append(f"{block.group(1)}: {_marker(inline)}{ending}" if inline else line)
            continue
        if inside and body and not body[0].isspace():
            inside = False        # the next top-level key ends the block
        if inside and body.strip():
            entry = _ENTRY.match(body)
            if entry:
                out.append(f"{entry.group(1)} {_marker(entry.group(2))}{ending}")
            else:                 # a continuation line of a multi-line value
                indent = body[:len(body) - len(body.lstrip())]
                out.append(f"{indent}{_marker(body.strip())}{ending}")
            continue
        out.append(line)
    return out


def _redact_json(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text if '"Secret"' not in text else _marker(text)
    if not _redact_object(data):
        return text
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _redact_object(obj: Any) -> bool:
    """Redact a Secret (or the Secrets of a List) in place; whether anything was."""
    if not isinstance(obj, dict):
        return False
    if obj.get("kind") == "Secret":
        for block in ("data", "stringData"):
            values = obj.get(block)
            if isinstance(values, dict):
                obj[block] = {k: _marker(json.dumps(v)) for k, v in values.items()}
            elif values is not None:
                obj[block] = _marker(json.dumps(values))
        return True
    found = False
    for item in obj.get("items") or []:
        found = _redact_object(item) or found
    return found


def _marker(value: str) -> str:
    digest = hmac.new(_RUN_KEY, value.encode(), hashlib.sha256).hexdigest()[:8]
    return f"<redacted {digest}>"
