"""Quantities read and written as k8s.io/apimachinery's pkg/api/resource does: the tables are
upstream's quantity_test.go (TestQuantityParse, TestQuantityString, TestQuantityParseEmit,
TestJSONWhitespace), each case with its expected value, format and canonical text."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from kompy.client.quantity import Quantity
from kompy.client.quantitytext import (
    BINARY,
    DECIMAL,
    EXPONENT,
    FORMAT_WRONG,
    NUMERIC_WRONG,
    QuantityError,
    decode,
    encode,
)


def dec(mantissa: int, exponent: int) -> Fraction:
    """Upstream's dec(i, exponent): i x 10^exponent."""
    return Fraction(mantissa) * Fraction(10) ** exponent


MAX_ALLOWED = Fraction(2 ** 63 - 1)

# TestQuantityParse: (input, value, format).
PARSED = [
    ("0", dec(0, 0), DECIMAL), ("0n", dec(0, 0), DECIMAL), ("0u", dec(0, 0), DECIMAL),
    ("0m", dec(0, 0), DECIMAL), ("0Ki", dec(0, 0), BINARY), ("0k", dec(0, 0), DECIMAL),
    ("0Mi", dec(0, 0), BINARY), ("0M", dec(0, 0), DECIMAL), ("0Gi", dec(0, 0), BINARY),
    ("0G", dec(0, 0), DECIMAL), ("0Ti", dec(0, 0), BINARY), ("0T", dec(0, 0), DECIMAL),
    # Quantity less numbers are allowed
    ("1", dec(1, 0), DECIMAL),
    # Binary suffixes
    ("1Ki", dec(1024, 0), BINARY), ("8Ki", dec(8 * 1024, 0), BINARY),
    ("7Mi", dec(7 * 1024 ** 2, 0), BINARY), ("6Gi", dec(6 * 1024 ** 3, 0), BINARY),
    ("5Ti", dec(5 * 1024 ** 4, 0), BINARY), ("4Pi", dec(4 * 1024 ** 5, 0), BINARY),
    ("3Ei", dec(3 * 1024 ** 6, 0), BINARY), ("10Ti", dec(10 * 1024 ** 4, 0), BINARY),
    ("100Ti", dec(100 * 1024 ** 4, 0), BINARY),
    # Decimal suffixes
    ("5n", dec(5, -9), DECIMAL), ("4u", dec(4, -6), DECIMAL), ("3m", dec(3, -3), DECIMAL),
    ("9", dec(9, 0), DECIMAL), ("8k", dec(8, 3), DECIMAL), ("50k", dec(5, 4), DECIMAL),
    ("7M", dec(7, 6), DECIMAL), ("6G", dec(6, 9), DECIMAL), ("5T", dec(5, 12), DECIMAL),
    ("40T", dec(4, 13), DECIMAL), ("300T", dec(3, 14), DECIMAL), ("2P", dec(2, 15), DECIMAL),
    ("1E", dec(1, 18), DECIMAL),
    # Decimal exponents
    ("1E-3", dec(1, -3), EXPONENT), ("1e3", dec(1, 3), EXPONENT), ("1E6", dec(1, 6), EXPONENT),
    ("1e9", dec(1, 9), EXPONENT), ("1E12", dec(1, 12), EXPONENT),
    ("1e15", dec(1, 15), EXPONENT), ("1E18", dec(1, 18), EXPONENT),
    # Nonstandard but still parsable
    ("1e14", dec(1, 14), EXPONENT), ("1e13", dec(1, 13), EXPONENT),
    ("100.035k", dec(100035, 0), DECIMAL),
    # Things that look like floating point
    ("0.001", dec(1, -3), DECIMAL), ("0.0005k", dec(5, -1), DECIMAL),
    ("0.005", dec(5, -3), DECIMAL), ("0.05", dec(5, -2), DECIMAL), ("0.5", dec(5, -1), DECIMAL),
    ("0.00050k", dec(5, -1), DECIMAL), ("0.00500", dec(5, -3), DECIMAL),
    ("0.05000", dec(5, -2), DECIMAL), ("0.50000", dec(5, -1), DECIMAL),
    ("0.5e0", dec(5, -1), EXPONENT), ("0.5e-1", dec(5, -2), EXPONENT),
    ("0.5e-2", dec(5, -3), EXPONENT), ("10.035M", dec(10035, 3), DECIMAL),
    ("1.2e3", dec(12, 2), EXPONENT), ("1.3E+6", dec(13, 5), EXPONENT),
    ("1.40e9", dec(14, 8), EXPONENT), ("1.53E12", dec(153, 10), EXPONENT),
    ("1.6e15", dec(16, 14), EXPONENT), ("1.7E18", dec(17, 17), EXPONENT),
    ("9.01", dec(901, -2), DECIMAL), ("8.1k", dec(81, 2), DECIMAL),
    ("7.123456M", dec(7123456, 0), DECIMAL), ("6.987654321G", dec(6987654321, 0), DECIMAL),
    ("5.444T", dec(5444, 9), DECIMAL), ("40.1T", dec(401, 11), DECIMAL),
    ("300.2T", dec(3002, 11), DECIMAL), ("2.5P", dec(25, 14), DECIMAL),
    ("1.01E", dec(101, 16), DECIMAL),
    # Things that saturate/round
    ("3.001n", dec(4, -9), DECIMAL), ("1.1E-9", dec(2, -9), EXPONENT),
    ("0.0000000001", dec(1, -9), DECIMAL), ("0.0000000005", dec(1, -9), DECIMAL),
    ("0.00000000050", dec(1, -9), DECIMAL), ("0.5e-9", dec(1, -9), EXPONENT),
    ("0.9n", dec(1, -9), DECIMAL), ("0.00000012345", dec(124, -9), DECIMAL),
    ("0.00000012354", dec(124, -9), DECIMAL), ("9Ei", MAX_ALLOWED, BINARY),
    ("9223372036854775807Ki", MAX_ALLOWED, BINARY), ("12E", dec(12, 18), DECIMAL),
    # We'll accept fractional binary stuff, too.
    ("100.035Ki", dec(10243584, -2), BINARY), ("0.5Mi", dec(512 * 1024, 0), BINARY),
    ("0.05Gi", dec(536870912, -1), BINARY), ("0.025Ti", dec(274877906944, -1), BINARY),
    # Things written by trolls
    ("0.000000000001Ki", dec(2, -9), DECIMAL),     # rounds up, changes format
    (".001", dec(1, -3), DECIMAL), (".0001k", dec(100, -3), DECIMAL),
    ("1.", dec(1, 0), DECIMAL), ("1.G", dec(1, 9), DECIMAL),
]


@pytest.mark.parametrize(("text", "value", "fmt"), PARSED)
def test_parse_reads_the_value_and_format_upstream_reads(text: str, value: Fraction,
                                                         fmt: str) -> None:
    # As upstream's test: the text as given, negated, and with an explicit +.
    for sign, factor in (("", 1), ("-", -1), ("+", 1)):
        got, got_fmt, _ = decode(sign + text)
        assert (got, got_fmt) == (value * factor, fmt), sign + text


@pytest.mark.parametrize("text", ["1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i",
                                  "-3.01i", "-3.01e-", " 1", "1 ", ""])
def test_parse_refuses_what_upstream_refuses(text: str) -> None:
    with pytest.raises(QuantityError):
        decode(text)


# TestQuantityString: (value, format, canonical text, another text of the same value).
STRINGS = [
    (dec(1024 ** 3, 0), BINARY, "1Gi", "1024Mi"),
    (dec(300 * 1024 ** 2, 0), BINARY, "300Mi", "307200Ki"),
    (dec(6 * 1024, 0), BINARY, "6Ki", ""),
    (dec(1001 * 1024 ** 3, 0), BINARY, "1001Gi", "1025024Mi"),
    (dec(1024 ** 4, 0), BINARY, "1Ti", "1024Gi"),
    (dec(5, 0), BINARY, "5", "5000m"),
    (dec(500, -3), BINARY, "500m", "0.5"),
    (dec(1, 9), DECIMAL, "1G", "1000M"),
    (dec(1000, 6), DECIMAL, "1G", "0.001T"),
    (dec(1000000, 3), DECIMAL, "1G", ""),
    (dec(1000000000, 0), DECIMAL, "1G", ""),
    (dec(1, -3), DECIMAL, "1m", "1000u"),
    (dec(80, -3), DECIMAL, "80m", ""),
    (dec(1080, -3), DECIMAL, "1080m", "1.08"),
    (dec(108, -2), DECIMAL, "1080m", "1080000000n"),
    (dec(10800, -4), DECIMAL, "1080m", ""),
    (dec(300, 6), DECIMAL, "300M", ""),
    (dec(1, 12), DECIMAL, "1T", ""),
    (dec(1234567, 6), DECIMAL, "1234567M", ""),
    (dec(1234567, -3), BINARY, "1234567m", ""),
    (dec(3, 3), DECIMAL, "3k", ""),
    (dec(1025, 0), BINARY, "1025", ""),
    (dec(0, 0), DECIMAL, "0", ""),
    (dec(0, 0), BINARY, "0", ""),
    (dec(1, 9), EXPONENT, "1e9", ".001e12"),
    (dec(1, -3), EXPONENT, "1e-3", "0.001e0"),
    (dec(1, -9), EXPONENT, "1e-9", "1000e-12"),
    (dec(80, -3), EXPONENT, "80e-3", ""),
    (dec(300, 6), EXPONENT, "300e6", ""),
    (dec(1, 12), EXPONENT, "1e12", ""),
    (dec(1, 3), EXPONENT, "1e3", ""),
    (dec(3, 3), EXPONENT, "3e3", ""),
    (dec(3, 3), DECIMAL, "3k", ""),
    (dec(0, 0), EXPONENT, "0", "00"),
    (dec(1, -9), DECIMAL, "1n", ""),
    (dec(80, -9), DECIMAL, "80n", ""),
    (dec(1080, -9), DECIMAL, "1080n", ""),
    (dec(108, -8), DECIMAL, "1080n", ""),
    (dec(10800, -10), DECIMAL, "1080n", ""),
    (dec(1, -6), DECIMAL, "1u", ""),
    (dec(80, -6), DECIMAL, "80u", ""),
    (dec(1080, -6), DECIMAL, "1080u", ""),
]


@pytest.mark.parametrize(("value", "fmt", "expect", "alternate"), STRINGS)
def test_the_canonical_text_as_quantity_string(value: Fraction, fmt: str, expect: str,
                                               alternate: str) -> None:
    assert encode(value, fmt) == expect
    if value:
        assert encode(-value, fmt) == "-" + expect        # never "-0"
    # The canonical text is kept as sent; another spelling is written canonically.
    assert decode(expect)[2] == expect
    if alternate:
        assert decode(alternate)[2] is None
        assert str(Quantity.parse(alternate)) == expect


# TestQuantityParseEmit, and its negated cases.
@pytest.mark.parametrize(("text", "expect"), [
    ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"),
    (".001Ki", "1024m"), (".000001Ki", "1024u"), (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
])
def test_parse_then_emit(text: str, expect: str) -> None:
    assert str(Quantity.parse(text)) == expect
    assert str(Quantity.parse("-" + text)) == "-" + expect


# TestJSONWhitespace: what Quantity.UnmarshalJSON reads (JSON strings trimmed; numbers).
@pytest.mark.parametrize(("raw", "expect"), [
    (" 1", "1"), ("1 ", "1"), (1, "1"), (10, "10"), (-1, "-1"),
])
def test_json_values(raw: object, expect: str) -> None:
    assert str(Quantity.parse(raw)) == expect


# What kubectl sends for YAML numbers (float64 written by Go's encoding/json), and what the
# API server then stores; the strings are the task's examples.
@pytest.mark.parametrize(("raw", "expect"), [
    (0.5, "500m"), ("1.5Gi", "1536Mi"), ("1000m", "1"), (0.1, "100m"), (1e3, "1k"),
    ("1e3", "1e3"), ("2048Ki", "2Mi"), (1.0, "1"), (1000, "1k"), (1e-7, "100e-9"),
    (1.5e21, "1500e18"), (2.5, "2500m"), (-0.25, "-250m"), ("0.0001", "100u"),
    # Upstream keeps a text it judges canonical as it came, sign and zeros included.
    ("+1", "+1"), ("0100m", "0100m"), ("1000E", "1e21"),
])
def test_what_the_api_server_stores(raw: object, expect: str) -> None:
    assert str(Quantity.parse(raw)) == expect


def test_a_huge_exponent_is_refused_not_computed() -> None:
    """Upstream keeps 1e2000000000 as a scale; exactly, it would be gigabytes (kompy's
    bound, MAX_EXPONENT)."""
    for text in ("1e2000000000", "1e-2000000000", "1" * 2000):
        with pytest.raises(QuantityError, match=NUMERIC_WRONG):
            decode(text)
    with pytest.raises(QuantityError, match=re.escape(FORMAT_WRONG)):
        Quantity.parse(float("nan"))
