"""Kubernetes resource quantities (``500m``, ``128Mi``, ``1.5``, ``2e3``): exact values that
add and compare, written back as k8s.io/apimachinery's ``Quantity.String()`` writes them.

A quantity remembers its format (binary ``Ki``/``Mi``..., decimal ``m``/``k``/``M``..., or a
decimal exponent ``e3``), and prints in its canonical form: the largest suffix that keeps the
number whole (``1000m`` is ``1``, ``2048Mi`` is ``2Gi``, ``1500`` stays ``1500``); a binary
quantity below 1024 or with a fraction prints as a decimal one; anything finer than a
thousandth rounds up to ``1m``, as the API server's quantities do.
https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kompy.errors import KompyError

BINARY, DECIMAL, EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_DECIMAL_NAMES = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_SYNTAX = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                     r"(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE]?)$")
# A number followed by suffix letters upstream's scanner takes, but no suffix it knows
# (``1K``, ``1mi``): ErrSuffix rather than ErrFormatWrong.
_UNKNOWN_SUFFIX = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eEinumkKMGTP]+[-+]?[0-9]*$")


# Upstream's ErrFormatWrong and ErrSuffix, what kube-apiserver answers a malformed quantity.
_FORMAT_WRONG = ("quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
_SUFFIX_WRONG = "unable to parse quantity's suffix"


class QuantityError(KompyError, ValueError):
    """Text that is not a Kubernetes quantity (a ValueError too: a bad value): upstream's
    message (``reason``, what kube-apiserver answers) and the text."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    format: str = DECIMAL

    @staticmethod
    def parse(text: Any) -> Quantity:
        if isinstance(text, bool) or (isinstance(text, float) and not math.isfinite(text)):
            raise QuantityError(_FORMAT_WRONG, str(text))
        if isinstance(text, int | float):
            return Quantity(Fraction(str(text)))
        text = str(text).strip()
        match = _SYNTAX.match(text)
        if match is None:
            why = _SUFFIX_WRONG if _UNKNOWN_SUFFIX.match(text) else _FORMAT_WRONG
            raise QuantityError(why, text)
        number, suffix = Fraction(match.group(1)), match.group(2)
        if suffix in _BINARY_SUFFIXES:
            return Quantity(number * 2 ** _BINARY_SUFFIXES[suffix], BINARY)
        if suffix[:1] in ("e", "E"):
            return Quantity(number * Fraction(10) ** int(suffix[1:]), EXPONENT)
        return Quantity(number * Fraction(10) ** _DECIMAL_SUFFIXES[suffix], DECIMAL)

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
        return canonical(self.value, self.format)

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
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "0"
    if fmt == BINARY and value.denominator == 1 and value >= 1024:
        exponent = 0
        while exponent < 60 and value % (2 ** (exponent + 10)) == 0:
            exponent += 10
        suffix = {v: k for k, v in _BINARY_SUFFIXES.items()}.get(exponent, "")
        return f"{sign}{value // 2 ** exponent}{suffix}"
    # Decimal: thousandths at the finest (rounded up), then the largest power of a thousand
    # that keeps the mantissa whole.
    millis = math.ceil(value * 1000)
    exponent = -3
    mantissa = millis
    while exponent < 18 and mantissa % 1000 == 0:
        mantissa //= 1000
        exponent += 3
    if fmt == EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    return f"{sign}{mantissa}{_DECIMAL_NAMES[exponent]}"


def normalized(text: Any) -> str:
    """The canonical spelling of a quantity (``1000m`` -> ``1``); text as given when it is
    not one (validation reports it elsewhere)."""
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
