"""Secret values never reach ``kompy check``'s diffs."""

from __future__ import annotations

import base64
import json

from kompy.check.redact import redact_secret_values
from kompy.check.tree import FileChange

SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: db-env-secret
type: Opaque
data:
  POSTGRES_PASSWORD: {b64}
  OTHER: b3RoZXI=
stringData:
  config.ini: |
    password={plain}
    user=app
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
data:
  LEVEL: debug
"""


def secret(plain: str) -> str:
    return SECRET.format(b64=base64.b64encode(plain.encode()).decode(), plain=plain)


def test_values_of_secrets_are_replaced_and_other_objects_kept() -> None:
    text = redact_secret_values(secret("hunter2"))
    assert "hunter2" not in text and base64.b64encode(b"hunter2").decode() not in text
    assert "b3RoZXI=" not in text
    assert "  POSTGRES_PASSWORD: <redacted " in text
    assert "kind: Secret\n" in text and "name: db-env-secret\n" in text
    assert "  LEVEL: debug\n" in text     # a ConfigMap is not a secret


def test_the_diff_shows_which_values_changed_but_not_the_values() -> None:
    change = FileChange("db-env-secret-secret.yaml", "stale", secret("old-pass"),
                        secret("new-pass"))
    diff = change.diff("k8s/db-env-secret-secret.yaml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-"
               and not line.startswith(("---", "+++"))]
    assert len(changed) == 4, diff     # the data entry and the stringData line, old and new
    for value in ("old-pass", "new-pass"):
        assert value not in diff and base64.b64encode(value.encode()).decode() not in diff
    assert "OTHER" not in "".join(changed)  # an unchanged value keeps its marker


def test_json_secrets_are_redacted() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
           "data": {"TOKEN": base64.b64encode(b"s3cr3t").decode()}}
    text = redact_secret_values(json.dumps(obj, indent=2) + "\n")
    assert "czNjcjN0" not in text and json.loads(text)["data"]["TOKEN"].startswith("<redacted")
    listing = {"apiVersion": "v1", "kind": "List", "items": [obj]}
    assert "czNjcjN0" not in redact_secret_values(json.dumps(listing))
    plain = json.dumps({"kind": "ConfigMap", "data": {"A": "b"}})
    assert redact_secret_values(plain) == plain
