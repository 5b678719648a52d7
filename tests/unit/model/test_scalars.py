"""Scalar conversions and the shell-word splitter."""

from __future__ import annotations

import random
import shlex

import pytest

from kompy.errors import ComposeError, MultiError
from kompy.model import ByteSize, Duration, NullLocator
from kompy.model.lifecycle import parse_command, split_words
from kompy.model.scalars import env_mapping, go_float, go_string, str_mapping


@pytest.mark.parametrize("value, text", [
    (1.5, "1.5"), (100.0, "100"), (1e6, "1e+06"), (123456.0, "123456"),
    (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"),
    (0.0, "0"),
])
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text


def test_go_string() -> None:
    assert [go_string(v) for v in (True, False, 7, "x", None)] == ["true", "false", "7", "x", ""]


def test_mappings_are_sorted() -> None:
    assert list(str_mapping({"b": 1, "a": 2}, NullLocator(), ())) == ["a", "b"]
    assert list(env_mapping(["Z=1", "A"], NullLocator(), ())) == ["A", "Z"]


def test_mapping_entry_errors_are_all_reported() -> None:
    with pytest.raises(MultiError) as info:
        env_mapping(["A=1", 5, "=x", {"k": "v"}], NullLocator(), ("environment",))
    assert sorted(e.key_path for e in info.value.errors) == [
        ("environment", 1), ("environment", 2), ("environment", 3)]


@pytest.mark.parametrize("text", [
    "a b  c", "python -m app --name 'svc 1'", 'echo "hello world"', r'echo "a\"b" c\ d',
    r"echo 'a\b'", r'echo "a\b" "\$x" \\ \n', 'a"b c"d', "''", '""', "a ''", "x\\\ny",
    'sh -c "echo $HOME && ls"', "a\tb\nc", "", "   ",
])
def test_split_words_matches_shlex(text: str) -> None:
    assert split_words(text) == tuple(shlex.split(text))


def test_split_words_fuzzed_against_shlex() -> None:
    rng = random.Random(1234)
    alphabet = "ab \\'\"\n\t$`#;"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            expected: tuple[str, ...] | None = tuple(shlex.split(text))
        except ValueError:
            expected = None
        assert split_words(text) == expected, repr(text)


def test_parse_command_reports_bad_quotes() -> None:
    with pytest.raises(ComposeError, match="cannot split"):
        parse_command("echo 'x", NullLocator(), ("command",))


@pytest.mark.parametrize("raw, ns", [
    ("1h2m3.5s", 3723_500_000_000), ("300ms", 300_000_000), ("10us", 10_000), ("90", 90 * 10**9),
    (30, 30 * 10**9), ("1.5h", 5400 * 10**9),
])
def test_durations(raw: object, ns: int) -> None:
    assert Duration.parse(raw, NullLocator(), ()) == Duration(ns)


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (500_000_000, "500ms"), (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"),
    (1500, "1.5us"), (3723_500_000_000, "1h2m3.5s"),
])
def test_durations_render_as_go(ns: int, text: str) -> None:
    assert Duration(ns).to_compose() == text


@pytest.mark.parametrize("raw, size", [
    ("512m", 512 << 20), ("1gb", 1 << 30), ("2048k", 2 << 20), ("2b", 2), (1024, 1024),
    ("1.5g", 3 << 29), ("50M", 50 << 20),
])
def test_byte_sizes(raw: object, size: int) -> None:
    assert ByteSize.parse(raw, NullLocator(), ()) == ByteSize(size)


@pytest.mark.parametrize("raw", ["lots", "1x", True, "", "m"])
def test_bad_byte_sizes(raw: object) -> None:
    with pytest.raises(ComposeError):
        ByteSize.parse(raw, NullLocator(), ())


@pytest.mark.parametrize("raw", ["soon", "1 minute", True, "", "1m30", "s"])
def test_bad_durations(raw: object) -> None:
    with pytest.raises(ComposeError):
        Duration.parse(raw, NullLocator(), ())
