"""Schema validation: every problem at once, sorted, in plain words, with positions and hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from kompy.compose import schema
from kompy.compose.loader import LoadOptions, load_project
from kompy.errors import ComposeError, KompyError, MultiError


def problems(tmp_path: Path, text: str) -> list[KompyError]:
    (tmp_path / "compose.yaml").write_text(text)
    with pytest.raises((ComposeError, MultiError)) as caught:
        load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path), environ={}))
    error = caught.value
    return list(error.errors) if isinstance(error, MultiError) else [error]


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  web:\n    image: a\n    enviroment: {A: '1'}\n")
    assert error.message == "unknown key 'enviroment'"
    assert error.hint == "did you mean 'environment'?"
    assert error.key_path == ("services", "web", "enviroment")
    assert error.location is not None and (error.location.line, error.location.column) == (4, 5)


def test_unknown_top_level_key_suggests_extensions(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services: {}\ncustom: 1\n")
    assert error.hint == "extension keys must start with 'x-'"


def test_extension_keys_are_allowed(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "x-common: &c {image: a}\nservices:\n  web:\n    <<: *c\n    x-note: hi\n")
    project = load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path), environ={}))
    assert project.services["web"].image == "a"


def test_all_problems_reported_at_once_sorted_by_position(tmp_path: Path) -> None:
    errors = problems(tmp_path, """
services:
  web:
    image: 3.5
    restart: 5
    ports:
      - [1, 2]
  db:
    depends_on:
      web: {condition: service_ready}
volumes:
  data: {driver: 5}
""")
    lines = [e.location.line for e in errors if e.location]
    assert lines == sorted(lines) and len(errors) == 5
    messages = [e.format() for e in errors]
    assert "services.web.image: expected a string, got the number 3.5" in messages[0]
    assert "services.web.ports[0]: expected a number, a string or a mapping, got a list" \
        in messages[2]
    assert "expected one of 'service_started'" in messages[3]


def test_wrong_type_message_names_both_types(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  web:\n    image: a\n    healthcheck: {test: 5}\n")
    assert error.message == "expected a string or a list, got the number 5"


def test_invalid_service_name(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  'my web':\n    image: a\n")
    assert error.message == "invalid name 'my web'"


def test_services_must_be_a_mapping(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  - web\n")
    assert error.message == "expected a mapping, got a list"
    assert error.key_path == ("services",)


def test_fast_and_full_validators_agree_on_valid_input() -> None:
    data = {"services": {"web": {"image": "a", "ports": ["80:80", {"target": 1}]}}}
    schema.validate(data, lambda path: None)
    assert list(schema.explain_all(data, lambda path: None)) == []


def test_shipped_validator_matches_the_schema() -> None:
    """kompy/compose/_spec_validator.py must be regenerated when compose-spec.json changes:
    python3 -m kompy.compose.schema"""
    from kompy.compose import _spec_validator

    assert schema.schema_digest() == _spec_validator.SCHEMA_SHA256
    assert "locals()" not in schema.generate_validator_code()


def test_wrong_item_inside_an_accepted_form_is_pointed_at(tmp_path: Path) -> None:
    [error] = problems(tmp_path, "services:\n  web:\n    image: a\n    depends_on: [db, 5]\n"
                                 "  db: {image: b}\n")
    assert error.key_path == ("services", "web", "depends_on", 1)
    assert error.message == "expected a string, got the number 5"


def test_generated_validator_code_validates() -> None:
    import fastjsonschema

    namespace: dict[str, object] = {}
    exec(compile(schema.generate_validator_code(), "<test>", "exec"), namespace)
    validate = namespace["validate"]
    assert callable(validate)
    validate({"services": {"web": {"image": "a"}}})
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate({"services": {"web": {"image": 1}}})
