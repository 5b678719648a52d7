"""Scalar and collection helpers shared by the value types: Compose's loose typing made strict.

Compose files are YAML read as Go's yaml.v3 reads them into ``interface{}``; compose-go then
turns numbers and booleans into strings where the Compose Specification wants strings
(labels, environment, sysctls...), with Go's ``fmt.Sprint``. These helpers do the same, and
raise positioned errors for values of the wrong shape.
"""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, Problems, fail
from kompy.model.values import remember

# Strings in environment mappings may be None: "KEY" without "=" whose value the process
# environment did not provide (compose-spec "environment").
EnvMapping = dict[str, str | None]

_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean",
    dict: "a mapping", list: "a list", type(None): "null",
}


def kind(raw: object) -> str:
    """How an error message names the type of a YAML value."""
    name = _TYPE_NAMES.get(type(raw))
    if name is None:
        tag = getattr(raw, "tag", None)  # yaml_reader.Tagged, left by a caller that did not merge
        return f"a value tagged {tag}" if isinstance(tag, str) else type(raw).__name__
    return name


def go_float(value: float) -> str:
    """Go's fmt.Sprint of a float64 (%v is %g with the shortest digits): 1.5 -> "1.5",
    100.0 -> "100", 1e6 -> "1e+06" (exponent form when the exponent is < -4 or >= 6)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp10 = len(text) + exponent - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    return prefix + format(Decimal(repr(abs(value))).normalize(), "f")


def go_string(value: object) -> str:
    """A YAML scalar as the string compose-go makes of it: true -> "true", 1.5 -> "1.5"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return ""
    return str(value)


def expect_str(raw: object, at: Locator, path: KeyPath, *, scalars: bool = True) -> str:
    """A string; numbers and booleans are accepted and converted when ``scalars``."""
    if isinstance(raw, str):
        return raw
    if scalars and isinstance(raw, (int, float)):
        return go_string(raw)
    raise fail(at, path, f"expected a string, got {kind(raw)}")


def opt_str(raw: object, at: Locator, path: KeyPath) -> str | None:
    return None if raw is None else expect_str(raw, at, path)


def expect_int(raw: object, at: Locator, path: KeyPath, *, minimum: int | None = None) -> int:
    """An integer; a string holding one is accepted (it may come from interpolation)."""
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str):
        try:
            value = int(raw.strip(), 10)
        except ValueError:
            value = None
    if value is None:
        raise fail(at, path, f"expected an integer, got {raw!r}")
    if minimum is not None and value < minimum:
        raise fail(at, path, f"must be at least {minimum}, got {value}")
    return value


def count(raw: object, at: Locator, path: KeyPath) -> int:
    """A number of things: an integer, not negative."""
    return expect_int(raw, at, path, minimum=0)


def expect_float(raw: object, at: Locator, path: KeyPath) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            pass
    raise fail(at, path, f"expected a number, got {raw!r}")


def expect_bool(raw: object, at: Locator, path: KeyPath) -> bool:
    """A boolean; "true"/"false" strings are accepted (they may come from interpolation)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise fail(at, path, f"expected true or false, got {raw!r}")


def flag(raw: object, at: Locator, path: KeyPath) -> bool:
    """A boolean key that is false when absent or null (privileged, tty...)."""
    return False if raw is None else expect_bool(raw, at, path)


def expect_mapping(raw: object, at: Locator, path: KeyPath) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise fail(at, path, f"expected a mapping, got {kind(raw)}")
    return raw


def expect_list(raw: object, at: Locator, path: KeyPath) -> list[Any]:
    if not isinstance(raw, list):
        raise fail(at, path, f"expected a list, got {kind(raw)}")
    return raw


def parse_mode(raw: object, at: Locator, path: KeyPath) -> int:
    """File modes: an integer (YAML 0755 is already octal) or an octal string "0755"."""
    if isinstance(raw, str):
        try:
            return int(raw, 8)
        except ValueError:
            raise fail(at, path, f"invalid file mode {raw!r}", hint='an octal number like "0440"'
                       ) from None
    return expect_int(raw, at, path, minimum=0)


def str_list(raw: object, at: Locator, path: KeyPath, *, single: bool = True) -> tuple[str, ...]:
    """A list of strings; with ``single`` a lone string is a one-item list (dns: 8.8.8.8)."""
    if raw is None:
        return ()
    if single and isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return (go_string(raw),)
    items = expect_list(raw, at, path)
    if all(type(item) is str for item in items):
        return tuple(items)
    problems = Problems()
    out = []
    for i, item in enumerate(items):
        value = problems.guard(expect_str, item, at, (*path, i))
        if value is not None:
            out.append(value)
    problems.raise_if_any()
    return tuple(out)


def str_mapping(raw: object, at: Locator, path: KeyPath) -> dict[str, str]:
    """Labels, sysctls, driver options: a mapping, or a list of "key=value" ("key" alone: "").

    Values become strings as compose-go's Labels/Mapping do; the result is sorted by key.
    """
    if raw is None:
        return {}
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, (dict, list)):
                raise fail(at, (*path, key), f"expected a string value, got {kind(value)}")
            out[str(key)] = go_string(value)
    elif isinstance(raw, list):
        problems = Problems()
        for i, item in enumerate(raw):
            if not isinstance(item, str):
                problems.add(fail(at, (*path, i),
                                  f'expected a "key=value" string, got {kind(item)}'))
                continue
            key, _, value = item.partition("=")
            out[key] = value
        problems.raise_if_any()
    else:
        raise fail(at, path, f'expected a mapping or a list of "key=value", got {kind(raw)}')
    return dict(sorted(out.items()))


def env_mapping(raw: object, at: Locator, path: KeyPath) -> EnvMapping:
    """environment / build.args: like str_mapping, but "KEY" alone and null values stay None
    (compose-spec "environment": the value is then looked up in the shell environment)."""
    if raw is None:
        return {}
    out: dict[str, str | None] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, (dict, list)):
                raise fail(at, (*path, key), f"expected a string value, got {kind(value)}")
            out[str(key)] = None if value is None else go_string(value)
    elif isinstance(raw, list):
        problems = Problems()
        for i, item in enumerate(raw):
            if not isinstance(item, str):
                problems.add(fail(at, (*path, i),
                                  f'expected a "KEY=value" string, got {kind(item)}'))
                continue
            key, sep, value = item.partition("=")
            if not key:
                problems.add(fail(at, (*path, i), f"missing variable name in {item!r}"))
                continue
            out[key] = value if sep else None
        problems.raise_if_any()
    else:
        raise fail(at, path, f'expected a mapping or a list of "KEY=value", got {kind(raw)}')
    return dict(sorted(out.items()))


def extensions(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The x-* keys of a mapping, as written, sorted."""
    return {k: raw[k] for k in sorted(raw) if k.startswith("x-")}


def check_keys(raw: Mapping[str, Any], known: frozenset[str], at: Locator, path: KeyPath) -> None:
    """Reject keys a long form does not have (x-* extensions are always allowed)."""
    if raw.keys() <= known:
        return
    for key in raw:
        if key not in known and not key.startswith("x-"):
            raise fail(
                at, (*path, key), f"unknown key {key!r}",
                hint="expected one of: " + ", ".join(sorted(known)),
            )


def resolve_path(base_dir: str, value: str) -> str:
    """A host path made absolute as compose-go does: "~" is the home directory, relative paths
    join the base directory, and the result is cleaned ("./a/../b" -> "b")."""
    if value.startswith("~"):
        return posixpath.normpath(posixpath.join(base_dir, os.path.expanduser(value)))
    cached = _PATHS.get((base_dir, value))
    if cached is None:
        cached = remember(_PATHS, (base_dir, value),
                          posixpath.normpath(posixpath.join(base_dir, value)))
    return cached


_PATHS: dict[tuple[str, str], str] = {}


def is_remote(context: str) -> bool:
    """A build context that is a URL rather than a folder (Compose: git/http contexts)."""
    return "://" in context or context.startswith(("git@", "github.com/"))
