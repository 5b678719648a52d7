"""Reads ``.env`` and ``env_file`` files with the syntax of Docker Compose (compose-go dotenv).

The statement grammar, scanned like compose-go's ``dotenv/parser.go``:

- blank lines and lines starting with ``#`` are skipped; ``export`` before a key is dropped;
- ``KEY=VALUE`` or the YAML-like ``KEY: VALUE``; spaces around the separator are ignored;
  key characters are letters, digits, ``_ . - [ ]``;
- ``KEY`` alone takes its value from the lookup and is left out when the lookup has none;
- an unquoted value runs to the end of the line, loses a `` #...`` comment (space then
  hash) and trailing white space, and is interpolated;
- a single-quoted value is literal (only ``\\'`` loses its backslash) and may span lines;
- a double-quoted value may span lines, expands ``\\n \\r \\t \\a \\b \\f \\v \\\\ \\" \\$``
  and ``\\0NNN`` octal escapes, and is then interpolated; ``\\$`` gives a literal ``$``.

Interpolation uses the Compose rules (kompy.compose.interpolate) with a variable looked up
first through ``lookup`` (the environment, as compose-go does) and then among the keys set
earlier in the same file. A UTF-8 byte order mark is skipped; CRLF line ends are accepted.

Two deliberate differences from compose-go, both for input it mishandles: a key with no
name (``=value``) is an error rather than an empty variable name, and a bare ``KEY`` on the
last line without a newline is inherited like any other bare key (compose-go turns it into
a variable with an empty name).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from kompy.compose.interpolate import substitute_all
from kompy.errors import ComposeError, KompyError, SourceLocation, raise_all

Lookup = Callable[[str], str | None]

# compose-go: escapeSeqRegex, `\d` there being ASCII digits only.
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"',
}
# Go's regexp `\s` (ASCII white space without \v) after "export".
_EXPORT = re.compile(r"export[\t\n\f\r ]")
# compose-go isSpace: white space that does not end a line.
_INLINE_SPACE = "\t\v\f\r \x85\xa0"
_KEY_PUNCTUATION = frozenset("_.-[]")
_QUOTE_NAMES = {"'": "single", '"': "double"}
_QUOTE_SPECIALS = {"'": re.compile(r"[\\']"), '"': re.compile(r'[\\"]')}
# The common key characters and inline spaces, skipped in one step.
_KEY_RUN = re.compile(r"[A-Za-z0-9_.\-\[\]\t\v\f\r \x85\xa0]*")


def _no_lookup(_: str) -> str | None:
    return None


def _go_isspace(c: str) -> bool:
    # Go's unicode.IsSpace; Python's str.isspace also counts the \x1c-\x1f separators.
    return c.isspace() and c not in "\x1c\x1d\x1e\x1f"


def _is_key_char(c: str) -> bool:
    if c.isascii():
        return c.isalnum() or c in _KEY_PUNCTUATION
    return c.isalpha() or unicodedata.category(c).startswith("N")


def _expand_escape(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == "\\$":
        return "$$"  # the interpolation's own escape: a literal $ that is not substituted
    if text.startswith("\\0"):
        # compose-go rewrites \0NNN to Go's \NNN, which needs exactly three octal digits
        # and a value below 256; anything else is kept with the 0 removed.
        digits = text[2:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return "\\" + digits
    return _SIMPLE_ESCAPES.get(text[1], text)  # \c is matched but is no Go escape: kept


class _Parser:
    def __init__(self, text: str, file: str, lookup: Lookup) -> None:
        self.text = text
        self.file = file
        self.lookup = lookup
        self.out: dict[str, str] = {}
        self.errors: list[KompyError] = []

    def location(self, pos: int) -> SourceLocation:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return SourceLocation(self.file, line, column)

    def fatal(self, message: str, pos: int, hint: str) -> NoReturn:
        """Stop at a syntax error, reporting it with the problems found before it."""
        error = ComposeError(message, location=self.location(pos), hint=hint)
        raise_all([*self.errors, error])
        raise error  # unreachable: raise_all raises for a non-empty list

    def parse(self) -> dict[str, str]:
        pos = 0
        while True:
            pos = self.statement_start(pos)
            if pos < 0:
                break
            pos = self.statement(pos)
        raise_all(self.errors)
        return self.out

    def statement_start(self, pos: int) -> int:
        """The next statement's offset past white space and comment lines, or -1."""
        text, n = self.text, len(self.text)
        while True:
            while pos < n and _go_isspace(text[pos]):
                pos += 1
            if pos >= n:
                return -1
            if text[pos] != "#":
                return pos
            pos = text.find("\n", pos)
            if pos < 0:
                return -1

    def statement(self, start: int) -> int:
        text, n = self.text, len(self.text)
        pos = start
        if _EXPORT.match(text, pos):
            pos += len("export")
            while pos < n and text[pos] in _INLINE_SPACE:
                pos += 1
        key_start = pos
        separator = -1
        while pos < n:
            run = _KEY_RUN.match(text, pos)
            pos = run.end() if run else pos
            if pos >= n:
                break
            c = text[pos]
            if c in "=:\n":
                separator = pos
                break
            if not (c in _INLINE_SPACE or _is_key_char(c)):
                self.fatal(
                    f"unexpected character {c!r} in variable name",
                    pos,
                    "write KEY=VALUE; a name holds letters, digits and _ . - [ ]",
                )
            pos += 1
        key = text[key_start:separator if separator >= 0 else n].rstrip()
        if " " in key:
            self.fatal(
                "a variable name cannot contain a space",
                key_start,
                "write KEY=VALUE, or quote a value that contains spaces",
            )
        if separator < 0 or text[separator] == "\n":
            # A bare KEY: its value comes from the lookup, and it is absent if that has none.
            if key:
                value = self.lookup(key)
                if value is not None:
                    self.out[key] = value
            return n if separator < 0 else separator + 1
        if not key:
            self.fatal(
                "missing variable name before the separator",
                separator,
                "write KEY=VALUE",
            )
        pos = separator + 1
        while pos < n and text[pos] in _INLINE_SPACE:
            pos += 1
        value, pos = self.value(pos, start)
        self.out[key] = value
        return pos

    def value(self, pos: int, start: int) -> tuple[str, int]:
        text = self.text
        quote = text[pos] if pos < len(text) else ""
        if quote not in ("'", '"'):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            raw = text[pos:end]
            cut = raw.find(" #")  # an inline comment needs a space before the hash
            if cut >= 0:
                raw = raw[:cut]
            end_of_value = len(raw)
            while end_of_value and _go_isspace(raw[end_of_value - 1]):
                end_of_value -= 1
            return self.expand(raw[:end_of_value], start), end
        chars: list[str] = []
        i = pos + 1
        n = len(text)
        special = _QUOTE_SPECIALS[quote]
        while i < n:
            found = special.search(text, i)
            if found is None:
                break
            chars.append(text[i : found.start()])
            i = found.start()
            c = text[i]
            if c == "\\" and i + 1 < n:
                nxt = text[i + 1]
                # An escaped quote of the same kind loses its backslash; other escapes stay
                # for the double-quote expansion below (or literally, in single quotes).
                chars.append(nxt if nxt == quote else "\\" + nxt)
                i += 2
                continue
            if c == quote:
                raw = "".join(chars)
                if quote == '"':
                    raw = self.expand(_ESCAPE.sub(_expand_escape, raw), start)
                return raw, i + 1
            chars.append(c)
            i += 1
        self.fatal(
            f"unterminated {_QUOTE_NAMES[quote]}-quoted value",
            pos,
            f"close the value with {quote}; a quoted value may span lines until its closing "
            "quote",
        )

    def expand(self, raw: str, start: int) -> str:
        if "$" not in raw:
            return raw
        out = self.out
        lookup = self.lookup

        def find(name: str) -> str | None:
            value = lookup(name)
            return value if value is not None else out.get(name)

        result, problems, _unset = substitute_all(raw, find)
        for p in problems:
            self.errors.append(ComposeError(p.message, location=self.location(start), hint=p.hint))
        return result


def parse_dotenv(text: str, file: str, lookup: Lookup = _no_lookup) -> dict[str, str]:
    """The variables an env file defines, in file order; errors carry ``file:line``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _Parser(text, file, lookup).parse()


def read_dotenv(path: str | Path, lookup: Lookup = _no_lookup) -> dict[str, str]:
    """Read and parse an env file; a missing, unreadable or non-UTF-8 file is a ComposeError."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ComposeError(
            "env file not found",
            location=SourceLocation(file),
            hint="check the path (relative paths start at the project directory)",
        ) from None
    except IsADirectoryError:
        raise ComposeError(
            "env file is a directory", location=SourceLocation(file), hint="name a file"
        ) from None
    except OSError as e:
        raise ComposeError(
            f"cannot read env file: {e.strerror or e}", location=SourceLocation(file)
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ComposeError(
            f"env file is not valid UTF-8 (byte 0x{raw[e.start]:02x})",
            location=SourceLocation(file, line, column),
            hint="save the file as UTF-8",
        ) from None
    return parse_dotenv(text, file, lookup)
