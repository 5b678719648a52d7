"""Kubernetes resource quantities (``500m``, ``128Mi``, ``1.5``, ``2e3``): exact values that
add and compare, written back as k8s.io/apimachinery's ``Quantity.String()`` writes them.

A quantity remembers its format (binary ``Ki``/``Mi``..., decimal ``m``/``k``/``M``..., or a
decimal exponent ``e3``), and prints in its canonical form (quantitytext.py: the largest
suffix that keeps the number whole, ``1000m`` is ``1``, ``2048Mi`` is ``2Gi``), or as it was
written when upstream keeps that text (``100m``).
https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kompy.client.quantitytext import (
    BINARY,
    DECIMAL,
    EXPONENT,
    QuantityError,
    decode,
    encode,
    json_text,
)


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    format: str = DECIMAL
    # The text as sent, when upstream keeps it (it looks canonical): Quantity's cached ``s``.
    text: str | None = field(default=None, compare=False)

    @staticmethod
    def parse(raw: Any) -> Quantity:
        """Text or a JSON number, as Quantity.UnmarshalJSON reads it; QuantityError as
        kube-apiserver refuses it."""
        value, fmt, text = decode(json_text(raw))
        return Quantity(value, fmt, text)

    def __add__(self, other: Quantity) -> Quantity:
        # As Quantity.Add: the sum keeps this one's format, unless this one is zero.
        fmt = other.format if self.value == 0 else self.format
        return Quantity(self.value + other.value, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __gt__(self, other: Quantity) -> bool:
        return self.value > other.value

    def __ge__(self, other: Quantity) -> bool:
        return self.value >= other.value

    def __str__(self) -> str:
        return self.text if self.text is not None else encode(self.value, self.format)

    @property
    def milli(self) -> int:
        """The value in thousandths, rounded up away from zero (Quantity.MilliValue)."""
        return _away_from_zero(self.value * 1000)

    @property
    def whole(self) -> int:
        """The value rounded up away from zero (Quantity.Value): bytes of ``1.5Ki``, cores of
        ``1500m`` (2)."""
        return _away_from_zero(self.value)


def _away_from_zero(value: Fraction) -> int:
    """Upstream's ScaledValue rounding: ceil for positive values, floor for negative ones."""
    return math.ceil(value) if value >= 0 else math.floor(value)


def milli_value(raw: Any) -> int:
    """``raw`` (text or number) in thousandths, rounded up: millicores for CPU
    (``"100m"`` -> 100, ``0.5`` -> 500, ``"1e3"`` -> 1000000); QuantityError if malformed."""
    return Quantity.parse(raw).milli


def int_value(raw: Any) -> int:
    """``raw`` (text or number) as a whole number, rounded up: bytes for memory and storage
    (``"1Ki"`` -> 1024, ``"1.5Gi"`` -> 1610612736, ``"1m"`` -> 1); QuantityError if
    malformed."""
    return Quantity.parse(raw).whole


ZERO = Quantity(Fraction(0))


def canonical(value: Fraction, fmt: str = DECIMAL) -> str:
    """``value`` as Quantity.String() writes it in ``fmt``."""
    return encode(value, fmt)


def normalized(text: Any) -> str:
    """A quantity as kube-apiserver stores and serves it (``1000m`` -> ``1``, ``0.5`` ->
    ``500m``); text as given when it is not one (validation reports it elsewhere)."""
    try:
        return str(Quantity.parse(text))
    except QuantityError:
        return str(text)


def or_zero(value: Any) -> Quantity:
    """The quantity, or zero for text that is not one (validation reports that elsewhere;
    what counts usage must not fail on it)."""
    try:
        return Quantity.parse(value)
    except QuantityError:
        return ZERO


def total(values: list[Any]) -> Quantity:
    out = ZERO
    for value in values:
        out = out + Quantity.parse(value)
    return out


__all__ = ["BINARY", "DECIMAL", "EXPONENT", "ZERO", "Quantity", "QuantityError", "canonical",
           "int_value", "milli_value", "normalized", "or_zero", "total"]
