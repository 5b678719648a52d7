"""Quantities as k8s.io/apimachinery parses, adds and prints them."""

from __future__ import annotations

import pytest

from kompy.client.quantity import Quantity, QuantityError, normalized, total


@pytest.mark.parametrize(("text", "canonical"), [
    ("1000m", "1"), ("1500m", "1500m"), ("0.5", "500m"), ("1", "1"), ("1000", "1k"),
    ("1500", "1500"), ("2048Mi", "2Gi"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"),
    ("512", "512"), ("100Ki", "100Ki"), ("0.0001", "1m"), ("1e3", "1e3"), ("0", "0"),
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
