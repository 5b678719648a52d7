"""Variable interpolation in Compose files, with the rules of Docker Compose (compose-go).

Compose Specification, "Interpolation": ``$VAR`` and ``${VAR}`` take the variable's value
(empty when unset), ``${VAR:-default}`` / ``${VAR-default}`` fall back when the variable is
unset or empty / unset, ``${VAR:?err}`` / ``${VAR?err}`` fail when it is unset or empty /
unset, ``${VAR:+alt}`` / ``${VAR+alt}`` give ``alt`` when it is set and non-empty / set, and
``$$`` is a literal ``$``. Defaults, alternatives and error texts may themselves contain
substitutions (``${A:-${B:-x}}``).

The matching follows compose-go's ``template`` package so that odd inputs behave the same:
one regular expression finds ``$$``, ``$NAME``, ``${...}`` and the invalid ``${`` forms; a
``$`` followed by anything else (``$ 5``, ``$1``, ``5$``) is kept as written; and, as in
compose-go, a default or error text is substituted before the variable is consulted, so a
missing required variable inside an unused default is still an error.

Only lookup results are secret: error messages name variables and quote the template syntax
the user wrote, never a variable's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kompy.errors import ComposeError, Diagnostic, KeyPath, KompyError, SourceLocation, raise_all
from kompy.yaml.reader import Tagged

Lookup = Callable[[str], str | None]
Locate = Callable[[KeyPath], SourceLocation | None]

# compose-go template.DefaultPattern, spelled for Python: names are [_a-z][_a-z0-9]* matched
# case-insensitively; a braced form must close on the same line (``.`` stops at a newline);
# ``${`` that does not form a valid braced substitution is the "invalid" group.
_NAME = r"[_a-zA-Z][_a-zA-Z0-9]*"
_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>" + _NAME + r")"
    r"|\{(?:(?P<braced>" + _NAME + r"(?::?[-+?].*)?)\}|(?P<invalid>)))"
)
_BRACED = re.compile(r"(" + _NAME + r")(:?[-+?])?(.*)", re.DOTALL)

_FORMS_HINT = (
    "write $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, "
    "${NAME?error}, ${NAME:+alternative} or ${NAME+alternative}; "
    "escape a literal $ as $$"
)


class Unresolved(Exception):  # noqa: N818 - the contract's name
    """A substitution that cannot be made; the caller adds the location."""

    def __init__(self, message: str, hint: str | None = None, variable: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.variable = variable


class _Substituter:
    """One substitution pass; records every problem instead of stopping at the first."""

    __slots__ = ("lookup", "problems", "unset")

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.problems: list[Unresolved] = []
        self.unset: list[str] = []

    def run(self, text: str) -> str:
        if "$" not in text:
            return text
        return _PATTERN.sub(self.replace, text)

    def fail(self, problem: Unresolved) -> str:
        if all(p.message != problem.message for p in self.problems):
            self.problems.append(problem)
        return ""

    def replace(self, match: re.Match[str]) -> str:
        if match.group("escaped") is not None:
            return "$"
        named = match.group("named")
        if named is not None:
            return self.value_of(named)
        if match.group("invalid") is not None:
            return self.fail(_invalid(match.string, match.start()))
        # The pattern's ``.*`` is greedy and may run past this substitution's closing brace
        # (``${A:-x} and ${B}``): cut at the brace that balances the opening one and
        # substitute the remainder separately, as compose-go does.
        whole = match.group(0)
        close = _closing_brace(whole)
        rest = ""
        if close > -1:
            whole, rest = whole[: close + 1], whole[close + 1 :]
        return self.braced(whole[2:-1], match.string, match.start()) + self.run(rest)

    def braced(self, body: str, template: str, at: int) -> str:
        parts = _BRACED.fullmatch(body)
        if parts is None:  # only reachable when the cut left an unbalanced body
            return self.fail(_invalid(template, at))
        name, op, arg = parts.group(1), parts.group(2), parts.group(3)
        if op is None:
            if arg:
                return self.fail(_invalid(template, at))
            return self.value_of(name)
        # compose-go substitutes the default / error text before looking at the variable.
        arg_value = self.run(arg)
        value = self.lookup(name)
        if op == ":-":
            return value or arg_value
        if op == "-":
            return arg_value if value is None else value
        if op == ":+":
            return arg_value if value else (value or "")
        if op == "+":
            return arg_value if value is not None else ""
        if value is None or (op == ":?" and value == ""):
            return self.fail(_missing(name, op, arg, value))
        return value

    def value_of(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            if name not in self.unset:
                self.unset.append(name)
            return ""
        return value


def _closing_brace(s: str) -> int:
    """compose-go getFirstBraceClosingIndex: the ``}`` balancing the first ``{``, or -1."""
    depth = 0
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        if c == "{":
            depth += 1
            i += 1  # compose-go skips the character after an opening brace
        i += 1
    return -1


def _invalid(template: str, at: int) -> Unresolved:
    end = template.find("}", at)
    newline = template.find("\n", at)
    if end == -1 or (newline != -1 and newline < end):
        end = newline if newline != -1 else len(template)
    else:
        end += 1
    fragment = template[at:end]
    if len(fragment) > 40:
        fragment = fragment[:37] + "..."
    return Unresolved(f"invalid interpolation format {fragment!r}", _FORMS_HINT)


def _missing(name: str, op: str, arg: str, value: str | None) -> Unresolved:
    # The error text is shown as written, not substituted: a substituted text could carry
    # another variable's value into the terminal or a CI log.
    message = f"required variable {name} is missing a value"
    if arg:
        message += f": {arg}"
    if value is None:
        hint = f"set {name} in the environment or in the project's .env file (or --env-file)"
    else:
        hint = f"{name} is set but empty, and ${{{name}{op}...}} requires a non-empty value"
    return Unresolved(message, hint, name)


def substitute(text: str, lookup: Lookup) -> str:
    """``text`` with every substitution made; raises Unresolved for the first problem."""
    if "$" not in text:
        return text
    sub = _Substituter(lookup)
    result = sub.run(text)
    if sub.problems:
        raise sub.problems[0]
    return result


def substitute_all(text: str, lookup: Lookup) -> tuple[str, list[Unresolved], list[str]]:
    """Substitute ``text``; return the result, every problem and the unset variables used."""
    sub = _Substituter(lookup)
    return sub.run(text), sub.problems, sub.unset


class _Walk:
    """Copies Compose data, substituting every string value; mapping keys stay as written."""

    def __init__(self, lookup: Lookup, locate: Locate) -> None:
        self.sub = _Substituter(lookup)
        self.locate = locate
        self.errors: list[KompyError] = []
        self.unset: dict[str, KeyPath] = {}

    def string(self, text: str, path: KeyPath) -> str:
        sub = self.sub
        result: str = _PATTERN.sub(sub.replace, text)
        if sub.problems:
            location = self.locate(path)
            for p in sub.problems:
                self.errors.append(
                    ComposeError(p.message, location=location, key_path=path, hint=p.hint)
                )
            sub.problems = []
        if sub.unset:
            for name in sub.unset:
                self.unset.setdefault(name, path)
            sub.unset = []
        return result

    def value(self, v: Any, path: KeyPath) -> Any:
        t = type(v)
        if t is str:
            return self.string(v, path) if "$" in v else v
        if t is dict:
            return self.mapping(v, path)
        if t is list:
            return self.sequence(v, path)
        if isinstance(v, Tagged):
            return Tagged(v.tag, self.value(v.value, path))
        if isinstance(v, str):
            return self.string(str(v), path) if "$" in v else v
        if isinstance(v, dict):
            return self.mapping(v, path)
        if isinstance(v, list):
            return self.sequence(v, path)
        return v

    def mapping(self, d: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if type(v) is str:
                out[k] = self.string(v, (*path, k)) if "$" in v else v
            elif v is None or type(v) in (int, bool, float):
                out[k] = v
            else:
                out[k] = self.value(v, (*path, k))
        return out

    def sequence(self, items: list[Any], path: KeyPath) -> list[Any]:
        out: list[Any] = []
        for i, v in enumerate(items):
            if type(v) is str:
                out.append(self.string(v, (*path, i)) if "$" in v else v)
            else:
                out.append(self.value(v, (*path, i)))
        return out


def interpolate(
    data: Any,
    lookup: Lookup,
    locate: Locate,
    path: KeyPath = (),
    diagnostics: list[Diagnostic] | None = None,
) -> Any:
    """New data with every string value substituted; mapping keys are left as written.

    Every problem (missing required variable, invalid syntax) in the whole document is
    collected and raised at once, sorted by position. Variables used but not set become
    empty strings, as in Compose, with one warning per variable in ``diagnostics``.
    """
    walk = _Walk(lookup, locate)
    result = walk.value(data, path)
    raise_all(walk.errors)
    if diagnostics is not None:
        for name, where in walk.unset.items():
            diagnostics.append(
                Diagnostic(
                    f"variable {name} is not set; using an empty string",
                    location=locate(where),
                    key_path=where,
                    hint=f"set {name} in the environment or the .env file, "
                    f"or give a default with ${{{name}:-default}}",
                )
            )
    return result
