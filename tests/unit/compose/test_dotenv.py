"""Env files follow compose-go's dotenv parser; cases mirror its tests and fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.compose.dotenv import parse_dotenv, read_dotenv
from kompy.errors import ComposeError, MultiError, SourceLocation


def parse(text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    return parse_dotenv(text, ".env", (env or {}).get)


def one(line: str) -> tuple[str, str]:
    out = parse(line)
    assert len(out) == 1, out
    return next(iter(out.items()))


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("FOO=bar", "FOO", "bar"),
        ("FOO =bar", "FOO", "bar"),
        ("FOO= bar", "FOO", "bar"),
        ("  KEY =value", "KEY", "value"),
        ("\tKEY=value", "KEY", "value"),
        ('FOO="bar"', "FOO", "bar"),
        ("FOO='bar'", "FOO", "bar"),
        ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'),
        ("FOO=\"'d'\"", "FOO", "'d'"),
        ("FOO='\"d\"'", "FOO", '"d"'),
        # YAML-like form
        ("OPTION_A: 1", "OPTION_A", "1"),
        ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
        ("OPTION_A=1:B", "OPTION_A", "1:B"),
        # export
        ("export OPTION_A=2", "OPTION_A", "2"),
        ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
        ("export exportFoo=2", "exportFoo", "2"),
        ("exportFOO=2", "exportFOO", "2"),
        ("export_FOO =2", "export_FOO", "2"),
        ("export.FOO= 2", "export.FOO", "2"),
        ("export\tOPTION_A=2", "OPTION_A", "2"),
        ("  export OPTION_A=2", "OPTION_A", "2"),
        ("export=2", "export", "2"),
        # names
        ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
        ("VAR-WITH-DASHES=d", "VAR-WITH-DASHES", "d"),
        ("a[1]=c", "a[1]", "c"),
        ("árvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép",
         "árvíztűrő-TÜKÖRFÚRÓGÉP", "ÁRVÍZTŰRŐ-tükörfúrógép"),
        ("456 = ABC", "456", "ABC"),
        # unquoted values: to the end of the line, " #" starts a comment, right-trimmed
        ("FOO=foobar=", "FOO", "foobar="),
        ("FOO=bar ", "FOO", "bar"),
        ("FOO=bar # this is foo", "FOO", "bar"),
        ("FOO=bar#baz", "FOO", "bar#baz"),
        ("FOO=bar\t#baz", "FOO", "bar\t#baz"),
        ("FOO=a  b\t", "FOO", "a  b"),
        ("FOO=#notacomment", "FOO", "#notacomment"),
        ("FOO=", "FOO", ""),
        ("FOO= ", "FOO", ""),
        # spaces after "=" are skipped first, so this hash has no space before it
        ("FOO= # not a comment", "FOO", "# not a comment"),
        ("FOO=''", "FOO", ""),
        # quoted values keep # and spaces
        ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
        ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
        ('FOO="bar#baz#bang" # comment', "FOO", "bar#baz#bang"),
        ('FOO="  padded  "', "FOO", "  padded  "),
        # double-quote escapes (compose-go expandEscapes)
        ('FOO="bar\\nbaz"', "FOO", "bar\nbaz"),
        ('FOO="a\\tb\\rc\\\\d"', "FOO", "a\tb\rc\\d"),
        ('FOO="\\a\\b\\f\\v"', "FOO", "\a\b\f\v"),
        ('FOO="bar\\n\\ b\\az"', "FOO", "bar\n\\ b\az"),
        ('FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r\\ b\az"),
        ('FOO="\\0123"', "FOO", "S"),
        ('FOO="\\01|\\0777|\\c|\\x41"', "FOO", "\\1|\\777|\\c|\\x41"),
        ('FOO="foo\\$BAR"', "FOO", "foo$BAR"),
        ('FOO="foo\\${BAR}"', "FOO", "foo${BAR}"),
        # single quotes are literal except for an escaped single quote
        ("OPTION_K='Let\\'s go!'", "OPTION_K", "Let's go!"),
        ("FOO='a\\nb $X ${Y:?}'", "FOO", "a\\nb $X ${Y:?}"),
    ],
)
def test_statements(line: str, key: str, value: str) -> None:
    assert one(line) == (key, value)


@pytest.mark.parametrize(
    "text",
    ["\n", "\r\n", "\t\t ", "# Comment", "\t # comment", "", "#a\n#b\n\n", "\ufeff"],
)
def test_nothing_to_read(text: str) -> None:
    assert parse(text) == {}


def test_multiline_quoted_values() -> None:
    text = 'A="first\nsecond"\nB=\'x\ny\'\nC="stratum+tcp://a:3333\\nstratum+tcp://b:443"\nD=4\n'
    assert parse(text) == {
        "A": "first\nsecond",
        "B": "x\ny",
        "C": "stratum+tcp://a:3333\nstratum+tcp://b:443",
        "D": "4",
    }


def test_text_after_a_closing_quote_is_another_statement() -> None:
    # compose-go resumes scanning right after the quote: `baz` is a bare (inherited) key.
    assert parse('FOO="bar" baz\n', {"baz": "from-env"}) == {"FOO": "bar", "baz": "from-env"}


def test_crlf_line_ends() -> None:
    text = "A=1\r\nB='two'\r\nC = three # c\r\n\r\nD\r\nE=\"x\r\ny\"\r\n"
    assert parse(text, {"D": "d"}) == {"A": "1", "B": "two", "C": "three", "D": "d",
                                       "E": "x\r\ny"}


def test_byte_order_mark_is_skipped() -> None:
    assert parse("\ufeffOPTION_A=1\nB=2") == {"OPTION_A": "1", "B": "2"}


def test_bare_key_takes_the_lookup_value_or_is_left_out() -> None:
    text = "foo=bar\nFROM_ENV\nNOT_FOUND\nbar=baz\n  SPACED  \nLAST"
    env = {"FROM_ENV": "v", "SPACED": "s", "LAST": "l"}
    assert parse(text, env) == {"foo": "bar", "FROM_ENV": "v", "bar": "baz", "SPACED": "s",
                                "LAST": "l"}
    assert parse("EMPTY\n", {"EMPTY": ""}) == {"EMPTY": ""}


def test_later_keys_win() -> None:
    assert parse("A=1\nA=2\n") == {"A": "2"}


def test_interpolation_order_lookup_then_earlier_keys() -> None:
    text = "FOO=from-file\nBAR=${FOO}\nBAZ=$OTHER\nQ=\"$FOO\"\nS='$FOO'\nLATER=$NEXT\nNEXT=n\n"
    assert parse(text) == {"FOO": "from-file", "BAR": "from-file", "BAZ": "", "Q": "from-file",
                           "S": "$FOO", "LATER": "", "NEXT": "n"}
    # The lookup (the environment) wins over the file's own earlier keys, as in compose-go;
    # the key itself still gets the file's value.
    assert parse(text, {"FOO": "from-env", "OTHER": "o"}) == {
        "FOO": "from-file", "BAR": "from-env", "BAZ": "o", "Q": "from-env", "S": "$FOO",
        "LATER": "", "NEXT": "n",
    }


def test_interpolation_rules_inside_values() -> None:
    text = (
        "A=${UNSET:-default}\nB=${A:+alt}\nC=${A:-x}_${B}\nD=\"${UNSET-${A}}\"\nE=$$A\n"
        "F=cost 5$\n"
    )
    assert parse(text) == {"A": "default", "B": "alt", "C": "default_alt", "D": "default",
                           "E": "$A", "F": "cost 5$"}


# -- errors ----------------------------------------------------------------------------------


def error_of(text: str) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        parse_dotenv(text, "proj/.env")
    return info.value


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("lol$wut", "proj/.env:1:4", "unexpected character '$' in variable name"),
        ("A=1\n%!(EXTRA string)=foo", "proj/.env:2:1", "unexpected character '%' in variable name"),
        ("A=1\nKEY # comment\n", "proj/.env:2:5", "unexpected character '#' in variable name"),
        ("A=1\n\nINVALID LINE\n", "proj/.env:3:1", "a variable name cannot contain a space"),
        ("MY KEY=1", "proj/.env:1:1", "a variable name cannot contain a space"),
        ('A=1\nB="x\n\n', "proj/.env:2:3", "unterminated double-quoted value"),
        ("A='x", "proj/.env:1:3", "unterminated single-quoted value"),
        ('KEY="', "proj/.env:1:5", "unterminated double-quoted value"),
        ("=value", "proj/.env:1:1", "missing variable name before the separator"),
        ("A=1\n  B=${", "proj/.env:2:3", "invalid interpolation format '${'"),
        ("X=\"${NEED:?please set}\"", "proj/.env:1:1",
         "required variable NEED is missing a value: please set"),
    ],
)
def test_errors(text: str, where: str, message: str) -> None:
    error = error_of(text)
    assert not isinstance(error, MultiError)
    assert (str(error.location), error.message) == (where, message)
    assert error.hint


def test_missing_variables_are_all_reported_then_a_syntax_error_stops() -> None:
    with pytest.raises(MultiError) as info:
        parse_dotenv("A=${X:?}\nB='ok'\nC=\"${Y:?y}\"\nD=\"broken\n", "e.env")
    assert [(str(e.location), e.message) for e in info.value.errors] == [
        ("e.env:1:1", "required variable X is missing a value"),
        ("e.env:3:1", "required variable Y is missing a value: y"),
        ("e.env:4:3", "unterminated double-quoted value"),
    ]


def test_errors_do_not_show_values() -> None:
    for text in ("PASSWORD=\"hunter2\nX=1", "PASSWORD=hunter2 ${Q:?}", "hunter2 hunter3=1"):
        with pytest.raises(ComposeError) as info:
            parse_dotenv(text, ".env", {"Q": ""}.get)
        assert "hunter" not in info.value.format(), text


# -- files -----------------------------------------------------------------------------------


def test_read_dotenv(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\nB=\xc3\xa8\r\n")
    assert read_dotenv(path) == {"A": "1", "B": "è"}
    assert read_dotenv(str(path), {"A": "x"}.get) == {"A": "1", "B": "è"}


def test_read_dotenv_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.env"
    with pytest.raises(ComposeError) as info:
        read_dotenv(path)
    assert info.value.message == "env file not found"
    assert info.value.location == SourceLocation(str(path))
    assert info.value.hint


def test_read_dotenv_directory(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="is a directory"):
        read_dotenv(tmp_path)


def test_read_dotenv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.env"
    path.write_bytes(b"A=1\nB=caf\xe9\n")
    with pytest.raises(ComposeError) as info:
        read_dotenv(path)
    assert info.value.location == SourceLocation(str(path), 2, 6)
    assert "UTF-8" in info.value.message


# -- compose-go fixtures ---------------------------------------------------------------------

FIXTURES: dict[str, dict[str, str]] = {
    "plain.env": {
        "OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "3", "OPTION_D": "4", "OPTION_E": "5",
        "456": "ABC", "OPTION_F": "", "OPTION_G": "", "OPTION_H": "my string",
    },
    "utf8-bom.env": {
        "OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "3", "OPTION_D": "4", "OPTION_E": "5",
        "456": "ABC", "OPTION_F": "", "OPTION_G": "", "OPTION_H": "my string",
    },
    "exported.env": {"OPTION_A": "2", "OPTION_B": "\\n"},
    "equals.env": {"OPTION_A": "postgres://localhost:5432/database?sslmode=disable"},
    "quoted.env": {
        "OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "", "OPTION_D": "\\n", "OPTION_E": "1",
        "OPTION_F": "2", "OPTION_G": "", "OPTION_H": "\n", "OPTION_I": "echo 'asd'",
        "OPTION_J": "first line\nsecond line\nthird line\nand so on",
        "OPTION_K": "Let's go!", "OPTION_Z": "last value",
    },
    "unquoted.env": {
        "OPTION_A": "some quoted phrase",
        "OPTION_B": "first one with an unquoted phrase",
        "OPTION_C": "then another one with an unquoted phrase",
        "OPTION_D": "then another one with an unquoted phrase special è char",
        "OPTION_E": "then another one quoted phrase",
    },
    "substitutions.env": {
        "OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1", "OPTION_D": "1_1", "OPTION_E": "",
    },
    "substitutions-default.env": {
        "OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1", "OPTION_D": "1_1", "OPTION_E": "",
    },
    "special.env": {
        "VAR.WITH.DOTS": "dots", "VAR_WITH_UNDERSCORES": "underscores",
        "VAR-WITH-DASHES": "dashes",
    },
    "custom.format": {"FOO": "BAR", "ZOT": "QIX"},
    "inherited-single-var.env": {"VAR_TO_BE_LOADED_FROM_OS_ENV": "SOME_RANDOM_VALUE"},
    "inherited-multi-var.env": {
        "foo": "bar", "VAR_TO_BE_LOADED_FROM_OS_ENV": "SOME_RANDOM_VALUE", "bar": "baz",
    },
    "inherited-not-found.env": {},
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_compose_go_fixture(corpus: Path, name: str) -> None:
    path = corpus / "compose-go-testdata" / "dotenv" / "fixtures" / name
    env = {"VAR_TO_BE_LOADED_FROM_OS_ENV": "SOME_RANDOM_VALUE"}
    assert read_dotenv(path, env.get) == FIXTURES[name]


def test_compose_go_invalid_fixture(corpus: Path) -> None:
    path = corpus / "compose-go-testdata" / "dotenv" / "fixtures" / "invalid1.env"
    with pytest.raises(ComposeError) as info:
        read_dotenv(path)
    assert info.value.location == SourceLocation(str(path), 7, 1)
    assert info.value.message == "a variable name cannot contain a space"


def test_compose_go_env_files(corpus: Path) -> None:
    base = corpus / "compose-go-testdata"
    folder = base / "cli" / "testdata" / "env-file"
    assert read_dotenv(folder / "simple-env") == {"DEFAULT_PORT": "8080"}
    assert read_dotenv(folder / "override.env") == {"PORT": "9000"}
    assert read_dotenv(base / "loader" / "example1.env") == {
        "FOO": "foo_from_env_file", "ENV.WITH.DOT": "ok", "ENV_WITH_UNDERSCORE": "ok",
        "BAR": "bar_from_env_file", "BAZ": "baz_from_env_file",
    }
    assert read_dotenv(base / "types" / "fixtures" / "override.env", {"BAR": "env"}.get) == {
        "FOO": "foo_from_override.env", "INTERPOLATED_FOO": "foo_from_override.env",
        "BAR": "bar_from_override.env", "INTERPOLATED_BAR": "env",
    }
