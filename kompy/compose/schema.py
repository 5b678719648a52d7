"""Validates a merged project against the Compose Specification's JSON schema.

The schema (``compose-spec.json``, draft-07, copied from compose-spec/compose-spec) is compiled
once per process with fastjsonschema, which is fast on valid input. fastjsonschema stops at the
first problem, so when it fails the project is validated again with jsonschema's
``Draft7Validator`` to report every problem at once, sorted by position, in plain words.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

from kompy.errors import ComposeError, KeyPath, KompyError, SourceLocation, raise_all

Locate = Callable[[KeyPath], SourceLocation | None]


@cache
def schema() -> dict[str, Any]:
    text = resources.files("kompy.compose").joinpath("compose-spec.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _fast_validator() -> Callable[[Any], Any]:
    import fastjsonschema

    validator: Callable[[Any], Any] = fastjsonschema.compile(schema())
    return validator


def validate(data: dict[str, Any], locate: Locate) -> None:
    """Raise one ComposeError, or a MultiError with every schema problem, sorted by position."""
    import fastjsonschema

    try:
        _fast_validator()(data)
        return
    except fastjsonschema.JsonSchemaException:
        pass
    errors = list(explain_all(data, locate))
    if not errors:  # the two validators disagree: trust the thorough one, but say so
        return
    raise_all(errors)


def explain_all(data: dict[str, Any], locate: Locate) -> Iterable[KompyError]:
    from jsonschema import Draft7Validator

    validator = Draft7Validator(schema())
    seen: set[tuple[KeyPath, str]] = set()
    for error in validator.iter_errors(data):
        for problem in _explain(error, data, locate):
            key = (problem.key_path, problem.message)
            if key not in seen:
                seen.add(key)
                yield problem


_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
    "integer": "an integer", "boolean": "a boolean (true or false)", "null": "null",
}


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the string {value!r}" if len(str(value)) < 40 else "a string"


def _words(types: Iterable[str]) -> str:
    names: list[str] = []
    for t in types:
        word = _TYPE_WORDS.get(t, t)
        if word not in names:
            names.append(word)
    if len(names) <= 1:
        return names[0] if names else "something else"
    return ", ".join(names[:-1]) + " or " + names[-1]


def _schema_types(sub: dict[str, Any], root: dict[str, Any]) -> list[str]:
    sub = _deref(sub, root)
    if "type" in sub:
        t = sub["type"]
        return list(t) if isinstance(t, list) else [t]
    out: list[str] = []
    for key in ("oneOf", "anyOf"):
        for option in sub.get(key, []):
            out.extend(_schema_types(option, root))
    return out


def _deref(sub: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = sub.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        return _deref(node, root) if isinstance(node, dict) else sub
    return sub


def _matches_type(value: Any, types: list[str]) -> bool:
    for t in types:
        if t == "object" and isinstance(value, dict):
            return True
        if t == "array" and isinstance(value, list):
            return True
        if t == "string" and isinstance(value, str):
            return True
        if t == "boolean" and isinstance(value, bool):
            return True
        if t in ("number", "integer") and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            return True
        if t == "null" and value is None:
            return True
    return False


def _known_keys(sub: dict[str, Any], root: dict[str, Any]) -> list[str]:
    return list(_deref(sub, root).get("properties", {}))


def _explain(error: Any, data: Any, locate: Locate) -> list[ComposeError]:
    path: KeyPath = tuple(error.absolute_path)
    validator = error.validator
    root = schema()
    value = error.instance

    def fail(message: str, at: KeyPath = path, hint: str | None = None) -> ComposeError:
        return ComposeError(message, location=locate(at), key_path=at, hint=hint)

    if validator == "additionalProperties":
        return _unknown_keys(error, path, fail)
    if validator == "type":
        expected = _words(_schema_types(error.schema, root))
        return [fail(f"expected {expected}, got {describe(value)}")]
    if validator in ("oneOf", "anyOf"):
        types = _schema_types(error.schema, root)
        if not _matches_type(value, types):
            return [fail(f"expected {_words(types)}, got {describe(value)}")]
        # The value has an acceptable type: explain the branch that takes that type.
        for sub in error.context or ():
            if not sub.relative_schema_path or sub.relative_schema_path[0] is None:
                continue
            branch = error.schema[validator][sub.relative_schema_path[0]]
            if _matches_type(value, _schema_types(branch, root)) and sub.validator != "type":
                return _explain(sub, data, locate)
        if validator == "oneOf" and isinstance(value, (str, int, float)):
            return [fail(f"{describe(value)} is not a valid value here")]
        return [fail(f"{describe(value)} does not match any accepted form",
                     hint="see the Compose Specification for this key's syntax")]
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "a key"
        return [fail(f"missing required key {name!r}")]
    if validator == "enum":
        choices = ", ".join(repr(c) for c in error.validator_value)
        return [fail(f"expected one of {choices}, got {describe(value)}")]
    if validator == "pattern":
        return [fail(f"{describe(value)} does not have the expected format "
                     f"(pattern {error.validator_value})")]
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [fail(f"{describe(value)} is out of range ({validator} {error.validator_value})")]
    if validator == "uniqueItems":
        return [fail("the list has duplicate entries", hint="remove the repeated entries")]
    if validator == "patternProperties":
        return [fail(error.message)]
    return [fail(error.message)]


def _unknown_keys(error: Any, path: KeyPath,
                  fail: Callable[..., ComposeError]) -> list[ComposeError]:
    instance = error.instance
    schema_node = error.schema
    known = list(schema_node.get("properties", {}))
    patterns = list(schema_node.get("patternProperties", {}))
    out: list[ComposeError] = []
    if not isinstance(instance, dict):
        return [fail(error.message)]
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        at = (*path, key)
        if not known and patterns:
            # A mapping of names (services, volumes...): the name itself is malformed.
            out.append(fail(f"invalid name {key!r}", at,
                            "names may contain only letters, digits, '.', '_' and '-'"))
            continue
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {guess[0]!r}?" if guess else (
            "extension keys must start with 'x-'" if known else None)
        out.append(fail(f"unknown key {key!r}", at, hint))
    return out or [fail(error.message)]
