"""Profiles and service selection, as the Docker Compose profiles guide describes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.errors import ComposeError

COMPOSE = """
services:
  web:
    image: web
    depends_on: [db]
  db:
    image: db
  debug:
    image: debug
    profiles: [debug]
  migrate:
    image: migrate
    profiles: [tools]
    depends_on: [db]
  mock:
    image: mock
    profiles: [test, debug]
"""


def services(tmp_path: Path, text: str = COMPOSE, **options: Any) -> list[str]:
    (tmp_path / "compose.yaml").write_text(text)
    options.setdefault("environ", {})
    project = load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path), **options))
    return sorted(project.services)


def test_services_with_profiles_are_off_by_default(tmp_path: Path) -> None:
    assert services(tmp_path) == ["db", "web"]


def test_profile_enables_its_services(tmp_path: Path) -> None:
    assert services(tmp_path, profiles=("debug",)) == ["db", "debug", "mock", "web"]


def test_compose_profiles_variable(tmp_path: Path) -> None:
    assert services(tmp_path, environ={"COMPOSE_PROFILES": "tools,test"}) == [
        "db", "migrate", "mock", "web"]


def test_flag_wins_over_compose_profiles(tmp_path: Path) -> None:
    assert services(tmp_path, profiles=("tools",), environ={"COMPOSE_PROFILES": "debug"}) == [
        "db", "migrate", "web"]


def test_star_enables_every_profile(tmp_path: Path) -> None:
    assert services(tmp_path, profiles=("*",)) == ["db", "debug", "migrate", "mock", "web"]


def test_selected_service_enables_its_profile_and_pulls_dependencies(tmp_path: Path) -> None:
    assert services(tmp_path, services=("migrate",)) == ["db", "migrate"]


def test_selection_pulls_dependencies_recursively(tmp_path: Path) -> None:
    text = "services:\n  a: {image: a, depends_on: [b]}\n  b: {image: b, depends_on: [c]}\n" \
           "  c: {image: c}\n  d: {image: d}\n"
    assert services(tmp_path, text, services=("a",)) == ["a", "b", "c"]


def test_unknown_selected_service(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as caught:
        services(tmp_path, services=("wbe",))
    assert caught.value.hint == "did you mean 'web'?"


def test_required_dependency_on_a_disabled_profile_is_an_error(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: w\n    depends_on: [tool]\n" \
           "  tool:\n    image: t\n    profiles: [tools]\n"
    with pytest.raises(ComposeError) as caught:
        services(tmp_path, text)
    assert "not enabled" in caught.value.message
    assert caught.value.hint is not None and "--profile tools" in caught.value.hint


def test_optional_dependency_on_a_disabled_profile_is_dropped(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: w\n    depends_on:\n      tool: {condition: " \
           "service_started, required: false}\n  tool:\n    image: t\n    profiles: [tools]\n"
    (tmp_path / "compose.yaml").write_text(text)
    project = load_project(LoadOptions(files=("compose.yaml",), cwd=str(tmp_path), environ={}))
    assert list(project.services) == ["web"]
    assert project.services["web"].depends_on == {}


def test_disabled_services_are_not_checked(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: w\n  tool:\n    image: t\n    profiles: [tools]\n" \
           "    volumes: ['undeclared:/x']\n"
    assert services(tmp_path, text) == ["web"]
    with pytest.raises(ComposeError, match="volume 'undeclared' is not defined"):
        services(tmp_path, text, profiles=("tools",))


def _warnings(tmp_path: Path, text: str, **options: Any) -> tuple[list[str], list[str]]:
    from kompy.errors import Diagnostic

    (tmp_path / "compose.yaml").write_text(text)
    diagnostics: list[Diagnostic] = []
    project = load_project(LoadOptions(cwd=str(tmp_path), files=("compose.yaml",),
                                       environ={}, **options), diagnostics)
    return sorted(project.services), [d.format() for d in diagnostics]


def test_a_profile_no_service_lists_is_a_warning(tmp_path: Path) -> None:
    # Issue #9 class 11: a typo'd profile used to convert silently to less than expected.
    services, warnings = _warnings(tmp_path, COMPOSE, profiles=("debgu",))
    assert services == ["db", "web"]
    assert len(warnings) == 1
    assert "profile 'debgu' selects no service" in warnings[0]
    assert "did you mean 'debug'?" in warnings[0]
    assert "compose.yaml:2:1" in warnings[0]


def test_no_enabled_service_is_a_warning_not_an_error(tmp_path: Path) -> None:
    text = ("services:\n  a:\n    image: a\n    profiles: [x]\n"
            "  b:\n    image: b\n    profiles: [y]\n")
    services, warnings = _warnings(tmp_path, text)
    assert services == []
    assert any("no service is enabled" in w and "x, y" in w for w in warnings)
    assert _warnings(tmp_path, text, profiles=("x",)) == (["a"], [])
