"""Quantities as k8s.io/apimachinery parses, adds and prints them."""

from __future__ import annotations

import pytest

from kompy.client.quantity import (
    Quantity,
    QuantityError,
    int_value,
    milli_value,
    normalized,
    total,
)


@pytest.mark.parametrize(("text", "canonical"), [
    ("1000m", "1"), ("1500m", "1500m"), ("0.5", "500m"), ("1", "1"), ("1000", "1k"),
    ("1500", "1500"), ("2048Mi", "2Gi"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"),
    ("512", "512"), ("100Ki", "100Ki"), ("0.0001", "100u"), ("1e3", "1e3"), ("0", "0"),
    ("128974848", "128974848"), ("129e6", "129e6"), ("1G", "1G"), (2, "2"),
])
def test_canonical_text(text: object, canonical: str) -> None:
    assert str(Quantity.parse(text)) == canonical


def test_a_sum_keeps_the_format_of_its_first_nonzero_term() -> None:
    assert str(total(["128Mi", "128Mi"])) == "256Mi"
    assert str(total(["500m", "500m", "1"])) == "2"
    assert str(Quantity.parse("1Gi") + Quantity.parse("1000")) == "1073742824"


def test_comparisons_are_exact() -> None:
    assert Quantity.parse("1Gi") > Quantity.parse("1G")
    assert Quantity.parse("1000m") <= Quantity.parse("1")
    assert Quantity.parse("999m") < Quantity.parse("1")


def test_bad_text_is_refused_and_normalized_leaves_it() -> None:
    for bad in ("1.2.3", "ten", "1Qi", True, ""):
        with pytest.raises(QuantityError):
            Quantity.parse(bad)
    assert normalized("ten") == "ten"
    assert normalized("2000m") == "2"


# (text, MilliValue, Value) as k8s.io/apimachinery's resource.Quantity answers them: both
# round up away from zero.
@pytest.mark.parametrize(("raw", "milli", "whole"), [
    ("100m", 100, 1), ("1500m", 1500, 2), ("0.5", 500, 1), (0.5, 500, 1), ("2", 2000, 2),
    (2, 2000, 2), ("1e3", 1_000_000, 1000), ("1E3", 1_000_000, 1000), ("1e-3", 1, 1),
    ("250000000n", 250, 1), ("1n", 1, 1), ("1u", 1, 1), ("0.0001", 1, 1), ("1k", 1_000_000, 1000),
    ("1Ki", 1_024_000, 1024), ("1.5Gi", 1536 * 2**20 * 1000, 1536 * 2**20),
    ("128Mi", 128 * 2**20 * 1000, 128 * 2**20), ("1G", 10**12, 10**9), ("1m", 1, 1),
    ("0", 0, 0), (" 64Mi ", 64 * 2**20 * 1000, 64 * 2**20), ("-100m", -100, -1),
    ("-1.5", -1500, -2), (".5", 500, 1), ("1.", 1000, 1), ("+2", 2000, 2),
])
def test_milli_and_whole_values_round_up(raw: object, milli: int, whole: int) -> None:
    assert milli_value(raw) == milli
    assert int_value(raw) == whole


FORMAT_WRONG = "quantities must match the regular expression"
SUFFIX_WRONG = "unable to parse quantity's suffix"


@pytest.mark.parametrize(("bad", "why"), [
    ("lots", FORMAT_WRONG), ("", FORMAT_WRONG), ("1.2.3", FORMAT_WRONG), ("Mi", FORMAT_WRONG),
    ("1 Mi", FORMAT_WRONG), ("0x10", FORMAT_WRONG), ("1Qi", FORMAT_WRONG),
    (None, FORMAT_WRONG), (True, FORMAT_WRONG), (float("nan"), FORMAT_WRONG),
    (float("inf"), FORMAT_WRONG), ("1K", SUFFIX_WRONG), ("1mi", SUFFIX_WRONG),
    ("1e", SUFFIX_WRONG), ("1kk", SUFFIX_WRONG),
])
def test_malformed_quantities_are_an_error_naming_the_text_never_zero(bad: object, why: str
                                                                      ) -> None:
    with pytest.raises(QuantityError) as error:
        milli_value(bad)
    assert str(error.value).startswith(why) and repr(str(bad).strip()) in str(error.value)
    with pytest.raises(QuantityError, match=why):
        int_value(bad)
