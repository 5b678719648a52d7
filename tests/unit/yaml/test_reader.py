"""The YAML reader: Compose's scalar typing, positions, merge keys and hostile input."""

from __future__ import annotations

import time

import pytest

from kompy.errors import ComposeError
from kompy.yaml.reader import (
    MAX_DEPTH,
    Tagged,
    decode_source,
    load_yaml,
    resolve_plain_scalar,
)


def one(text: str):  # type: ignore[no-untyped-def]
    docs = load_yaml(text, "compose.yaml")
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),  # YAML 1.1 booleans stay strings, as in Compose (yaml.v3)
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("true", True),
        ("False", False),
        ("0755", 0o755),  # legacy octal, as yaml.v3 decodes it
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", 1000),
        ("08", 8.0),
        ("1.5", 1.5),
        ("~", None),
        ("null", None),
        ("1m30s", "1m30s"),
        ("8080:80", "8080:80"),
        ("-1", -1),
    ],
)
def test_plain_scalars_resolve_like_compose(text: str, expected: object) -> None:
    assert resolve_plain_scalar(text) == expected
    assert type(resolve_plain_scalar(text)) is type(expected)


def test_quoted_scalars_are_strings() -> None:
    assert one('a: "true"\nb: \'0755\'\nc: |\n  x\n').data == {"a": "true", "b": "0755", "c": "x\n"}


def test_positions_are_one_based_and_point_at_keys_and_items() -> None:
    doc = one("services:\n  web:\n    ports:\n      - 80\n      - 443\n")
    assert doc.positions[("services", "web")] == (2, 3)
    assert doc.positions[("services", "web", "ports", 1)] == (5, 9)
    loc = doc.location(("services", "web", "ports", 1, "deeper"))
    assert (loc.file, loc.line, loc.column) == ("compose.yaml", 5, 9)


def test_merge_keys_explicit_keys_win_and_positions_follow_the_source() -> None:
    doc = one(
        "x-base: &base\n  restart: always\n  image: a\n"
        "services:\n  web:\n    <<: *base\n    image: b\n"
    )
    assert doc.data["services"]["web"] == {"image": "b", "restart": "always"}
    assert doc.positions[("services", "web", "restart")] == (2, 3)
    assert doc.positions[("services", "web", "image")] == (7, 5)
    assert not any("<<" in path for path in doc.positions)


def test_merge_key_list_earlier_sources_win() -> None:
    doc = one("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
    assert doc.data["c"] == {"x": 1, "y": 2}


def test_aliases_are_copies_not_shared_objects() -> None:
    doc = one("a: &a {x: [1]}\nb: *a\n")
    assert doc.data["a"] == doc.data["b"]
    assert doc.data["a"] is not doc.data["b"]


def test_reset_and_override_tags_are_kept() -> None:
    doc = one("ports: !reset []\nenvironment: !override {A: 1}\n")
    assert doc.data["ports"] == Tagged("!reset", [])
    assert doc.data["environment"] == Tagged("!override", {"A": 1})


def test_multiple_documents_and_empty_input() -> None:
    assert [d.data for d in load_yaml("a: 1\n---\nb: 2\n", "f")] == [{"a": 1}, {"b": 2}]
    assert load_yaml("", "f") == []


@pytest.mark.parametrize(
    ("text", "message", "line", "hint"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'", 2, "each key may appear once"),
        ("a:\n\tb: 1\n", "invalid YAML", 2, "tabs"),
        ("a: [1, 2\n", "invalid YAML", 2, None),
        ("a: !foo 1\n", "unknown YAML tag !foo", 1, "!reset"),
        ("a: *nope\n", "", 1, None),
        ("{[1]: 2}\n", "mapping key must be a plain value", 1, None),
    ],
)
def test_bad_yaml_is_a_positioned_error(text: str, message: str, line: int,
                                         hint: str | None) -> None:
    with pytest.raises(ComposeError) as caught:
        load_yaml(text, "compose.yaml")
    error = caught.value
    assert message in error.message
    assert error.location is not None
    assert (error.location.file, error.location.line) == ("compose.yaml", line)
    if hint:
        assert error.hint and hint in error.hint


def test_alias_bomb_fails_fast() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    # This thread's CPU time (about 0.4 s), not wall time, which a loaded machine stretches
    # past any bound; expanding the bomb would take minutes of CPU. Generous: "no hang".
    started = time.thread_time()
    with pytest.raises(ComposeError, match="aliases expand"):
        load_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert time.thread_time() - started < 5


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_nesting_is_refused_without_crashing(opener: str) -> None:
    # 100,000 levels crash ruamel's recursive C composer; the event walker refuses early.
    depth = 100_000
    closer = "]" if opener == "[" else "}"
    with pytest.raises(ComposeError, match=f"deeper than {MAX_DEPTH}"):
        load_yaml("a: " + opener * depth + closer * depth, "deep.yaml")


def test_decode_rejects_non_utf8_with_position() -> None:
    with pytest.raises(ComposeError) as caught:
        decode_source(b"a: 1\nb: \xff\n", "bad.yaml")
    assert caught.value.location is not None
    assert (caught.value.location.line, caught.value.location.column) == (2, 4)


def test_decode_strips_bom_and_refuses_nul_and_huge_files(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decode_source("\ufeffa: 1".encode(), "f") == "a: 1"
    with pytest.raises(ComposeError, match="NUL"):
        decode_source(b"a: \x00", "f")
    import kompy.yaml.reader as reader

    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 10)
    with pytest.raises(ComposeError, match="over kompy's limit"):
        decode_source(b"a: 1234567890", "f")
