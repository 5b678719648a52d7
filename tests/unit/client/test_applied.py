"""What apply records for a Secret, and the Warning header's parsing."""

from __future__ import annotations

import base64
import json

from kompy.client import applied
from kompy.client.rest import parse_warnings


def test_a_secrets_values_are_not_recorded() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "stringData": {"a": "plain"}, "data": {"b": base64.b64encode(b"x").decode()}}
    sent, manifest = applied.prepare(secret)
    assert "stringData" not in sent and base64.b64decode(sent["data"]["a"]) == b"plain"
    assert json.loads(manifest)["data"] == {"a": applied.REDACTED, "b": applied.REDACTED}
    assert sent["metadata"]["annotations"][applied.LAST_APPLIED] == manifest
    assert "stringData" in secret                  # the caller's object is left alone
    live = json.loads(json.dumps(sent)) | {"type": "Opaque"}
    assert applied.unchanged(live, sent, manifest)
    live["data"]["a"] = base64.b64encode(b"other").decode()
    assert not applied.unchanged(live, sent, manifest)


def test_other_objects_are_recorded_as_kubectl_records_them() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    sent, manifest = applied.prepare(cm)
    assert json.loads(manifest) == cm


def test_warning_headers() -> None:
    assert parse_warnings('299 - "a \\"b\\"", 299 - "c, d"') == ['a "b"', "c, d"]
    assert parse_warnings('299 agent "x" "Mon, 01 Jan 2024 00:00:00 GMT"') == ["x"]
    assert parse_warnings("garbage") == []
