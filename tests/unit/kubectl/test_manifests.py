from __future__ import annotations

from pathlib import Path

import pytest

from kompy.errors import UserError
from kompy.kubectl import manifests


def test_multi_document_lists_and_json(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n")
    (tmp_path / "b.json").write_text('{"apiVersion": "v1", "kind": "Namespace", '
                                     '"metadata": {"name": "n"}}')
    (tmp_path / "notes.txt").write_text("ignored")
    found = manifests.read([str(tmp_path)])
    assert [m.obj["metadata"]["name"] for m in found] == ["a", "s", "n"]
    assert found[1].location.file.endswith("a.yaml") and found[1].location.line == 9


def test_errors_carry_the_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\n---\nmetadata: {name: x}\n")
    with pytest.raises(UserError) as info:
        manifests.read([str(bad)])
    assert "no kind or apiVersion" in info.value.message and info.value.location
    assert info.value.location.line == 4
    with pytest.raises(UserError, match="no such file"):
        manifests.read([str(tmp_path / "missing.yaml")])
