"""Small scalar value types of the Compose Specification: durations and byte sizes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from kompy.errors import KeyPath
from kompy.model.base import Locator, fail

# Compose durations are Go durations: "1h2m3.5s", "300ms", "10us" (compose-spec "Specifying
# Durations"). A bare number is accepted as seconds, as Docker Compose does.
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

# Compose byte values: "2b", "1024kb", "2048k", "300m", "1gb" (compose-spec "Specifying Byte
# Values"), base 1024 as Docker's go-units RAMInBytes.
_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?", re.IGNORECASE)
_UNIT_BYTES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


@dataclass(frozen=True, order=True, slots=True)
class Duration:
    """A span of time, kept in nanoseconds so it renders back exactly."""

    nanoseconds: int

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> Duration:
        if isinstance(raw, bool):
            raise fail(at, path, f"expected a duration, got {raw!r}", hint='for example "1m30s"')
        if isinstance(raw, (int, float)):
            return cls(round(raw * 1e9))
        if not isinstance(raw, str) or not raw.strip():
            raise fail(at, path, f"expected a duration, got {raw!r}", hint='for example "1m30s"')
        cached = _DURATIONS.get(raw)
        if cached is not None:
            return cached
        text = raw.strip()
        if re.fullmatch(r"\d+(\.\d*)?", text):
            return cls(round(float(text) * 1e9))
        pos, total = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or pos == 0:
            raise fail(
                at, path, f"invalid duration {raw!r}",
                hint='use a number with a unit: h, m, s, ms, us, ns; for example "1m30s"',
            )
        return remember(_DURATIONS, raw, cls(round(total * 1e9)))

    @property
    def seconds(self) -> float:
        return self.nanoseconds / 1e9

    def whole_seconds(self, minimum: int = 0) -> int:
        """Rounded up: a probe period of 500ms cannot become 0 in Kubernetes."""
        return max(minimum, -(-self.nanoseconds // 1_000_000_000))

    def to_compose(self) -> str:
        """Go's time.Duration.String(): "1m30s", "500ms", "0s"."""
        ns = self.nanoseconds
        if ns == 0:
            return "0s"
        if ns < 1_000_000_000:
            for unit, size in (("ms", 1_000_000), ("us", 1_000), ("ns", 1)):
                if ns >= size:
                    return _trim(ns / size) + unit
        hours, rest = divmod(ns, 3600 * 10**9)
        minutes, rest = divmod(rest, 60 * 10**9)
        out = ""
        if hours:
            out += f"{hours}h"
        if hours or minutes:
            out += f"{minutes}m"
        return out + _trim(rest / 1e9) + "s"


@dataclass(frozen=True, order=True, slots=True)
class ByteSize:
    """A number of bytes."""

    bytes: int

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> ByteSize:
        if isinstance(raw, bool):
            raise fail(at, path, f"expected a byte size, got {raw!r}", hint='for example "512m"')
        if isinstance(raw, int):
            return cls(raw)
        if isinstance(raw, float) and raw.is_integer():
            return cls(int(raw))
        if isinstance(raw, str) and raw in _SIZES:
            return _SIZES[raw]
        match = _BYTES.fullmatch(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            raise fail(
                at, path, f"invalid byte size {raw!r}",
                hint='use a number with an optional unit b, k, m, g; for example "512m" or "1g"',
            )
        size = cls(int(float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()]))
        return remember(_SIZES, raw, size) if isinstance(raw, str) else size

    def to_compose(self) -> int:
        return self.bytes

    def to_kubernetes(self) -> str:
        """The shortest exact Kubernetes quantity: 536870912 -> "512Mi"."""
        value = self.bytes
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            size = 1 << (10 * ("KiMiGiTiPiEi".index(suffix) // 2 + 1))
            if value and value % size == 0:
                return f"{value // size}{suffix}"
        return str(value)


# Parsed values are immutable, so the same text (repeated across services, often through YAML
# anchors) can share one instance; this keeps a 2,000-service project well under 0.3 s.
_DURATIONS: dict[str, Duration] = {}
_SIZES: dict[str, ByteSize] = {}
CACHE_LIMIT = 4096
K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V) -> V:
    """Store ``value`` under ``key`` in a small memo (cleared when full) and return it."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _trim(number: float) -> str:
    text = f"{number:.9f}".rstrip("0").rstrip(".")
    return text or "0"
