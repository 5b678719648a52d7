"""Compiled schema validators cached on disk: built once, reused, never fatal when broken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from kompy import schemacache

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"replicas": {"type": "integer", "minimum": 0}},
    "additionalProperties": False,
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOMPY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "schemas"


def _factory(calls: list[int]) -> Any:
    def build() -> dict[str, Any]:
        calls.append(1)
        return SCHEMA

    return build


def test_validator_validates_and_is_built_once(cache: Path) -> None:
    calls: list[int] = []
    first = schemacache.compile_cached("k", _factory(calls))
    first({"replicas": 2})
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        first({"replicas": -1})
    assert len(list(cache.iterdir())) == 1
    second = schemacache.compile_cached("k", _factory(calls))
    second({"replicas": 2})
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        second({"bogus": 1})
    assert calls == [1]  # the second validator came from the cache


def test_different_keys_are_different_entries(cache: Path) -> None:
    schemacache.compile_cached("a", lambda: SCHEMA)
    schemacache.compile_cached("b", lambda: SCHEMA)
    assert len(list(cache.iterdir())) == 2


def test_corrupted_entry_is_rebuilt(cache: Path) -> None:
    schemacache.compile_cached("k", lambda: SCHEMA)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not marshal data")
    calls: list[int] = []
    validator = schemacache.compile_cached("k", _factory(calls))
    validator({"replicas": 1})
    assert calls == [1]


def test_unwritable_cache_compiles_in_memory(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("KOMPY_CACHE_DIR", str(blocker))
    validator = schemacache.compile_cached("k", lambda: SCHEMA)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validator({"replicas": "x"})
