"""Interpolation follows compose-go's template package; cases mirror its template_test.go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.compose.interpolate import Locate, Unresolved, interpolate, substitute
from kompy.errors import ComposeError, Diagnostic, KompyError, MultiError, SourceLocation
from kompy.yaml.reader import Tagged, load_yaml

ENV = {"FOO": "first", "BAR": "", "SECRET": "s3cr3t-value"}


def sub(text: str) -> str:
    return substitute(text, ENV.get)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("foo", "foo"),
        ("$${foo}", "${foo}"),
        ("$$FOO", "$FOO"),
        ("$FOO", "first"),
        ("${FOO}", "first"),
        ("This $FOO var", "This first var"),
        ("$FOO-bar", "first-bar"),  # docker/compose#8601: a plain name stops at "-"
        ("${FOO}${FOO}", "firstfirst"),
        ("This ${missing} var", "This  var"),
        ("This ${BAR} var", "This  var"),
        ("$foo_Bar9", ""),
        ("lower $FOO.x", "lower first.x"),
        # defaults
        ("ok ${missing:-def}", "ok def"),
        ("ok ${missing-def}", "ok def"),
        ("ok ${BAR:-def}", "ok def"),
        ("ok ${BAR-def}", "ok "),
        ("ok ${FOO:-def}", "ok first"),
        ("ok ${FOO-def}", "ok first"),
        ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
        ("${missing:-}", ""),
        ("${missing:-a b  c}", "a b  c"),
        # alternatives
        ("${FOO:+alt}", "alt"),
        ("${FOO+alt}", "alt"),
        ("${BAR:+alt}", ""),
        ("${BAR+alt}", "alt"),
        ("${missing:+alt}", ""),
        ("${missing+alt}", ""),
        # required, satisfied
        ("ok ${FOO:?err}", "ok first"),
        ("ok ${FOO?err}", "ok first"),
        ("ok ${BAR?err}", "ok "),
        ("${FOO?bar-baz}", "first"),
        # the first operator after the name wins
        ("${missing-myerror?msg}", "myerror?msg"),
        ("${missing-a:-b}", "a:-b"),
        ("${FOO:+va:?lu:-e}", "va:?lu:-e"),
        # nested substitutions
        ("ok ${missing-$FOO}", "ok first"),
        ("ok ${missing-${FOO}}", "ok first"),
        ("ok ${missing-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("${A:-${B:-x}}", "x"),
        ("${A:-${B:-${C:-deep}}}-end", "deep-end"),
        ("${FOO:+[${FOO}]}", "[first]"),
        ("${A:-x} and ${FOO}", "x and first"),
        ("${A:-x}-${B:-y}", "x-y"),
        ("${A:-$$}", "$"),
        ("${A:-{x}}", "{x}"),
        ("${A:-x}y}", "xy}"),
        # a $ that starts no substitution is kept
        ("cost 5$", "cost 5$"),
        ("$ 5", "$ 5"),
        ("$1 $-", "$1 $-"),
        ("$}", "$}"),
        ("a$.b", "a$.b"),
        ("multi\nline $FOO\n", "multi\nline first\n"),
    ],
)
def test_substitute(template: str, expected: str) -> None:
    assert sub(template) == expected


def test_lookup_is_called_for_each_name_case_sensitively() -> None:
    seen: list[str] = []

    def lookup(name: str) -> str | None:
        seen.append(name)
        return {"foo": "lower"}.get(name)

    assert substitute("$foo ${FOO:-upper}", lookup) == "lower upper"
    assert seen == ["foo", "FOO"]


def test_default_is_substituted_before_the_variable_is_consulted() -> None:
    # compose-go evaluates the default (and with it any required variable inside) first.
    with pytest.raises(Unresolved, match="required variable B is missing a value"):
        sub("${FOO:-${B:?}}")


@pytest.mark.parametrize(
    "template",
    ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "${VAR:x}", "${VAR", "x ${VAR:-a",
     "${VAR:-a\n}", "${9X}", "${A${B}}", "${A:-${}"],
)
def test_invalid_syntax(template: str) -> None:
    with pytest.raises(Unresolved) as info:
        sub(template)
    assert info.value.message.startswith("invalid interpolation format")
    assert info.value.hint is not None and "$$" in info.value.hint


def test_invalid_message_quotes_only_the_bad_fragment() -> None:
    with pytest.raises(Unresolved) as info:
        sub("prefix text ${VAR:x} suffix")
    assert info.value.message == "invalid interpolation format '${VAR:x}'"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("not ok ${UNSET_VAR:?Mandatory Variable Unset}",
         "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
        ("not ok ${BAR:?Mandatory Variable Empty}",
         "required variable BAR is missing a value: Mandatory Variable Empty"),
        ("not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"),
        ("not ok ${UNSET_VAR?Mandatory Variable Unset}",
         "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
        ("not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"),
        ("${UNSET_VAR?bar-baz}", "required variable UNSET_VAR is missing a value: bar-baz"),
    ],
)
def test_required(template: str, message: str) -> None:
    with pytest.raises(Unresolved) as info:
        sub(template)
    assert info.value.message == message
    assert info.value.variable == message.split()[2]


def test_required_hint_tells_unset_from_empty() -> None:
    with pytest.raises(Unresolved) as unset:
        sub("${NOPE:?}")
    with pytest.raises(Unresolved) as empty:
        sub("${BAR:?}")
    assert unset.value.hint is not None and "set NOPE" in unset.value.hint
    assert empty.value.hint is not None and "set but empty" in empty.value.hint


def test_errors_never_show_a_variables_value() -> None:
    for template in ("${NOPE:?see ${SECRET}}", "${SECRET:+${NOPE:?x}}", "$SECRET ${X"):
        with pytest.raises(Unresolved) as info:
            sub(template)
        text = f"{info.value.message} {info.value.hint}"
        assert "s3cr3t" not in text, template


# -- interpolate: whole documents ---------------------------------------------------------


def load(text: str, file: str = "compose.yaml") -> tuple[Any, Locate]:
    doc = load_yaml(text, file)[0]
    return doc.data, doc.location


def test_interpolate_values_not_keys_and_keeps_types() -> None:
    data, locate = load(
        "services:\n"
        "  $FOO:\n"
        "    image: ${FOO}:${TAG:-latest}\n"
        "    environment:\n"
        "      ${FOO}: $FOO\n"
        "    command: [echo, $$HOME, '$FOO']\n"
        "    replicas: 3\n"
        "    tty: true\n"
        "    user: null\n"
        "    cpus: 0.5\n"
    )
    out = interpolate(data, ENV.get, locate)
    assert out == {
        "services": {
            "$FOO": {
                "image": "first:latest",
                "environment": {"${FOO}": "first"},
                "command": ["echo", "$HOME", "first"],
                "replicas": 3,
                "tty": True,
                "user": None,
                "cpus": 0.5,
            }
        }
    }


def test_interpolate_returns_new_data() -> None:
    data = {"a": ["$FOO", {"b": "${FOO}"}]}
    out = interpolate(data, ENV.get, lambda _: None)
    assert out == {"a": ["first", {"b": "first"}]}
    assert data == {"a": ["$FOO", {"b": "${FOO}"}]}


def test_interpolate_keeps_tagged_values() -> None:
    data, locate = load(
        "services:\n"
        "  web:\n"
        "    ports: !override\n"
        "      - ${PORT:-80}:80\n"
        "    image: !reset ${FOO}\n"
        "    labels: !reset null\n"
    )
    out = interpolate(data, ENV.get, locate)
    web = out["services"]["web"]
    assert web["ports"] == Tagged("!override", ["80:80"])
    assert web["image"] == Tagged("!reset", "first")
    assert web["labels"] == Tagged("!reset", None)


def test_interpolate_scalars_and_path_prefix() -> None:
    assert interpolate("$FOO", ENV.get, lambda _: None) == "first"
    assert interpolate(7, ENV.get, lambda _: None) == 7
    seen: list[object] = []

    def locate(path: tuple[str | int, ...]) -> SourceLocation | None:
        seen.append(path)
        return None

    with pytest.raises(ComposeError) as info:
        interpolate({"x": "${NOPE:?}"}, ENV.get, locate, path=("services", "web"))
    assert info.value.key_path == ("services", "web", "x")
    assert seen == [("services", "web", "x")]


def test_interpolate_collects_every_error_sorted_by_position() -> None:
    data, locate = load(
        "services:\n"
        "  web:\n"
        "    image: ${IMAGE:?set the image}\n"
        "    environment:\n"
        "      - A=${A:?}\n"
        "      - OK=$FOO\n"
        "  db:\n"
        "    image: \"${DB\"\n"
        "    command: ${X?} ${Y:?y needed}\n",
        file="proj/compose.yaml",
    )
    with pytest.raises(MultiError) as info:
        interpolate(data, ENV.get, locate)
    found = [(str(e.location), e.key_path, e.message) for e in info.value.errors]
    assert found == [
        ("proj/compose.yaml:3:5", ("services", "web", "image"),
         "required variable IMAGE is missing a value: set the image"),
        ("proj/compose.yaml:5:9", ("services", "web", "environment", 0),
         "required variable A is missing a value"),
        ("proj/compose.yaml:8:5", ("services", "db", "image"),
         "invalid interpolation format '${DB'"),
        ("proj/compose.yaml:9:5", ("services", "db", "command"),
         "required variable X is missing a value"),
        ("proj/compose.yaml:9:5", ("services", "db", "command"),
         "required variable Y is missing a value: y needed"),
    ]
    text = info.value.format()
    assert text.splitlines()[0] == (
        "proj/compose.yaml:3:5: services.web.image: "
        "required variable IMAGE is missing a value: set the image"
    )


def test_interpolate_single_error_is_a_compose_error() -> None:
    data, locate = load("services:\n  web:\n    image: ${IMAGE:?}\n")
    with pytest.raises(ComposeError) as info:
        interpolate(data, ENV.get, locate)
    assert not isinstance(info.value, MultiError)
    assert info.value.location == SourceLocation("compose.yaml", 3, 5)
    assert info.value.exit_code == 2


def test_interpolate_errors_hide_values() -> None:
    data, locate = load("x:\n  a: ${SECRET:+${NOPE:?no}}\n  b: ${SECRET}${\n")
    with pytest.raises(KompyError) as info:
        interpolate(data, ENV.get, locate)
    assert "s3cr3t" not in info.value.format()


def test_interpolate_warns_once_per_unset_variable() -> None:
    data, locate = load("a: $NOPE\nb: [x, '${NOPE}', '${OTHER}']\nc: ${DEF:-ok}\n")
    diagnostics: list[Diagnostic] = []
    out = interpolate(data, ENV.get, locate, diagnostics=diagnostics)
    assert out == {"a": "", "b": ["x", "", ""], "c": "ok"}
    assert [(d.message, str(d.location)) for d in diagnostics] == [
        ("variable NOPE is not set; using an empty string", "compose.yaml:1:1"),
        ("variable OTHER is not set; using an empty string", "compose.yaml:2:19"),
    ]


def test_compose_go_variables_fixture(corpus: Path) -> None:
    base = corpus / "compose-go-testdata"
    text = (base / "schema" / "using-variables.yaml").read_text()
    data, locate = load(text, "using-variables.yaml")
    out = interpolate(data, {"VARIABLE": "v"}.get, locate)
    assert "$" not in repr(out)
    assert out["services"]["foo"]["volumes"][0] == "v:v"
    assert out["name"] == "v"

    text = (base / "cli" / "testdata" / "simple" / "compose-with-variables.yaml").read_text()
    data, locate = load(text)
    out = interpolate(data, {"PUBLIC_PORT": "8000"}.get, locate)
    assert out["services"]["simple"]["ports"] == ["8000:80"]
