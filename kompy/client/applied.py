"""What ``apply`` records in the ``last-applied-configuration`` annotation.

As kubectl: the manifest as applied, so that applying it again is recognised as unchanged
and a later ``kubectl apply`` can compute its three-way merge. Except for Secrets, where
kubectl writes the values into the annotation too, ``stringData`` in plain text
(kubernetes/kubernetes#29923), and every ``describe`` shows it. kompy records a Secret's
keys with their values redacted: kubectl's three-way merge only uses the recorded keys (to
find the ones to delete), and kompy tells "unchanged" by comparing the values with the live
Secret instead. ``stringData`` is merged into ``data`` before sending, as the API server
would do, so it never reaches the server either.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Not base64, so an annotation applied back by mistake is refused rather than stored.
REDACTED = "(redacted by kompy)"


def _is_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def prepare(obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The object to send (annotated) and the text recorded in its annotation."""
    obj = copy.deepcopy(obj)
    recorded = obj
    if _is_secret(obj):
        plain = obj.pop("stringData", None)
        if isinstance(plain, dict) and plain:
            data: dict[str, Any] = obj["data"] if isinstance(obj.get("data"), dict) else {}
            obj["data"] = data
            for key, value in plain.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        recorded = copy.deepcopy(obj)
        if isinstance(recorded.get("data"), dict):
            recorded["data"] = {key: REDACTED for key in recorded["data"]}
    manifest = json.dumps(recorded, sort_keys=True, separators=(",", ":"))
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {}
    meta["annotations"][LAST_APPLIED] = manifest
    return obj, manifest


def unchanged(existing: dict[str, Any], obj: dict[str, Any], manifest: str) -> bool:
    """Whether applying ``obj`` (from ``prepare``) to ``existing`` would change nothing."""
    meta = existing.get("metadata") or {}
    if (meta.get("annotations") or {}).get(LAST_APPLIED) != manifest:
        return False
    if not _is_secret(obj):
        return True
    return bool((existing.get("data") or {}) == (obj.get("data") or {}) and
                existing.get("type", "Opaque") == obj.get("type", "Opaque"))
