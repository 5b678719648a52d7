"""The text of a resource quantity, read and written as k8s.io/apimachinery's
``pkg/api/resource`` does: ``ParseQuantity`` (quantity.go) and ``CanonicalizeBytes``
with its suffixes (suffix.go, amount.go).

Reading keeps what the API server keeps of a value: the exact number (rounded up away from
zero to a billionth, ``0.0000000001`` is ``1n``), its format (binary ``Ki``..., decimal
``m``/``k``..., or an exponent ``e3``) and, when upstream judges the text already canonical,
the text itself (upstream's cached string: ``100m``, ``1Gi``, and also ``+1`` and
``0100m``, which it serves as sent).

Writing is the canonical form kube-apiserver serves: the largest suffix that keeps the number
whole and exact (``0.5`` -> ``500m``, ``1.5Gi`` -> ``1536Mi``, ``1000m`` -> ``1``,
``2048Ki`` -> ``2Mi``); a binary value below 1024 or with a fraction is written as a decimal
one (``0.5Ki`` -> ``512``); a decimal exponent keeps its form (``1e3``, ``80e-3``).
https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from kompy.errors import KompyError

BINARY, DECIMAL, EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_NAMES = {exp: suffix for suffix, exp in _BINARY_SUFFIXES.items()}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_DECIMAL_NAMES = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_SYNTAX = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?"
                     r"(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE]?)$")
# A number followed by suffix letters upstream's scanner takes, but no suffix it knows
# (``1K``, ``1mi``): ErrSuffix rather than ErrFormatWrong.
_UNKNOWN_SUFFIX = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eEinumkKMGTP]+[-+]?[0-9]*$")

# Upstream's ErrFormatWrong, ErrSuffix and ErrNumeric: what kube-apiserver answers.
FORMAT_WRONG = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
SUFFIX_WRONG = "unable to parse quantity's suffix"
NUMERIC_WRONG = "unable to parse numeric part of quantity"

_NANO = 10 ** 9
_MAX_INT64 = 2 ** 63 - 1
# maxInt64Factors: a decimal number of at most this many digits is read exactly as an int64.
_INT64_DIGITS = 18
# kompy's own bounds, where upstream has none: a longer text or a larger power of ten would
# make a value of gigabytes (``1e2000000000``) that the server would hang computing exactly.
MAX_DIGITS, MAX_EXPONENT = 1000, 1000


class QuantityError(KompyError, ValueError):
    """Text that is not a Kubernetes quantity (a ValueError too: a bad value): upstream's
    message (``reason``, what kube-apiserver answers) and the text."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason


def json_text(raw: Any) -> str:
    """The text Quantity.UnmarshalJSON reads for a decoded JSON value: a string trimmed; a
    number as Go's encoding/json wrote it (kubectl turns YAML's ``0.5`` and ``1e3`` into
    float64 and writes ``0.5`` and ``1000``; ``1e-07`` becomes ``1e-7``)."""
    if isinstance(raw, bool) or raw is None or (isinstance(raw, float) and
                                                not math.isfinite(raw)):
        raise QuantityError(FORMAT_WRONG, str(raw))
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return _go_float(raw)
    return str(raw).strip()


def _go_float(number: float) -> str:
    """strconv.AppendFloat(f, 'f' or 'e', -1) as encoding/json chooses: the shortest digits
    that read back, positional from 1e-6 up to 1e21."""
    if number == 0:
        return "0"
    exact = Decimal(repr(number)).normalize()
    if 1e-6 <= abs(number) < 1e21:
        return format(exact, "f")
    sign, digits, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1
                                 else "")
    power = exponent + len(digits) - 1
    return ("-" if sign else "") + mantissa + (f"e-{-power}" if power < 0 else f"e+{power:02d}")


def decode(text: str) -> tuple[Fraction, str, str | None]:
    """ParseQuantity: (value, format, the text when upstream keeps it as canonical);
    QuantityError as upstream refuses."""
    if len(text) > MAX_DIGITS:
        raise QuantityError(NUMERIC_WRONG, text)
    match = _SYNTAX.match(text)
    if match is None or match.group(2) + (match.group(3) or "") == "":
        raise QuantityError(SUFFIX_WRONG if _UNKNOWN_SUFFIX.match(text) else FORMAT_WRONG,
                            text)
    sign, whole, fraction, suffix = match.group(1, 2, 3, 4)
    fraction = fraction or ""
    if text == "0":
        return Fraction(0), DECIMAL, text
    number = whole.lstrip("0") or "0"     # upstream's scanner drops leading zeros
    base, exponent, fmt = _suffix(suffix)
    if abs(exponent) > MAX_EXPONENT:
        raise QuantityError(NUMERIC_WRONG, text)
    negative = sign == "-"
    exact = _exact(number, fraction, base, exponent)
    if exact is not None:
        value, cached = exact
        return (-value if negative else value), fmt, (text if cached else None)
    return _rounded(Fraction(f"{number}.{fraction}0"), negative, base, exponent, fmt)


def _suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, as quantitySuffixer.interpret."""
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return 10, int(suffix[1:]), EXPONENT
    return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL


def _exact(number: str, fraction: str, base: int, exponent: int
           ) -> tuple[Fraction, bool] | None:
    """ParseQuantity's int64 fast path: the exact value and whether upstream keeps the text
    (it looks canonical already); None when the value needs the rounding path."""
    shifted = number + fraction
    if base == 10:
        scale = exponent - len(fraction)
        if _INT64_DIGITS - len(shifted) < 0 or scale < -9:
            return None
        digits = int(shifted)
        cached = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
        return Fraction(digits) * Fraction(10) ** scale, cached
    # Binary: only whole numbers with few enough digits (1Mi has about 6 decimal digits).
    if fraction or 15 - len(number) - exponent * 3 // 10 - 1 < 0:
        return None
    digits = int(number)
    value = digits << exponent
    if value > _MAX_INT64:
        return None
    return Fraction(value), digits & 0x07 != 0


def _rounded(magnitude: Fraction, negative: bool, base: int, exponent: int, fmt: str
             ) -> tuple[Fraction, str, None]:
    """ParseQuantity's inf.Dec path: rounded up to a billionth, a binary value capped at
    2^63-1, and one between 0 and 1 made decimal."""
    magnitude *= Fraction(base) ** exponent
    magnitude = Fraction(math.ceil(magnitude * _NANO), _NANO)
    if fmt == BINARY and magnitude > _MAX_INT64:
        magnitude = Fraction(_MAX_INT64)
    if fmt == BINARY and 0 < magnitude < 1:
        fmt = DECIMAL
    return (-magnitude if negative else magnitude), fmt, None


def encode(value: Fraction, fmt: str = DECIMAL) -> str:
    """CanonicalizeBytes: ``value`` as Quantity.String() writes it in ``fmt``."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if fmt == BINARY and magnitude >= 1024 and magnitude.denominator == 1:
        mantissa, power = magnitude.numerator, 0
        while mantissa % 1024 == 0 and power < 60:
            mantissa //= 1024
            power += 10
        return f"{sign}{mantissa}{_BINARY_NAMES.get(power, '')}"
    mantissa, power = _decimal_parts(magnitude)
    if fmt == EXPONENT or power not in _DECIMAL_NAMES:
        # Past ``E`` (10^18) a decimal value takes the exponent form, as kubernetes#140459
        # made upstream do (before, 10^21 was written ``1``).
        return f"{sign}{mantissa}" + (f"e{power}" if power else "")
    return f"{sign}{mantissa}{_DECIMAL_NAMES[power]}"


def _decimal_parts(magnitude: Fraction) -> tuple[int, int]:
    """(mantissa, exponent) with the exponent a multiple of 3 and as large as keeps the
    mantissa whole (AsCanonicalBytes); finer than a billionth rounds up, as a parsed value
    already is."""
    power = 0
    while magnitude.denominator != 1 and power > -9:
        magnitude *= 10
        power -= 1
    mantissa = math.ceil(magnitude)
    while mantissa % 10 == 0:
        mantissa //= 10
        power += 1
    shift = power % 3
    return mantissa * 10 ** shift, power - shift


__all__ = ["BINARY", "DECIMAL", "EXPONENT", "FORMAT_WRONG", "NUMERIC_WRONG", "SUFFIX_WRONG",
           "QuantityError", "decode", "encode", "json_text"]
