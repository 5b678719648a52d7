"""Shared helpers for the model tests: YAML text -> data plus a locator that names lines."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from kompy.errors import ComposeError, KeyPath, KompyError, MultiError, SourceLocation
from kompy.model import Project, Service
from kompy.yaml.reader import YamlDocument, load_yaml

FILE = "compose.yaml"
WORKDIR = "/proj"


class DocLocator:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc

    def locate(self, path: KeyPath) -> SourceLocation | None:
        return self.doc.location(path)


def load(text: str) -> tuple[Any, DocLocator]:
    doc = load_yaml(textwrap.dedent(text), FILE)[0]
    return doc.data, DocLocator(doc)


def project(text: str, name: str = "proj") -> Project:
    data, at = load(text)
    return Project.parse(data, name=name, working_dir=WORKDIR, locator=at)


def service(text: str) -> Service:
    """The one service "s" of ``text``, which holds that service's keys (indented freely)."""
    body = textwrap.indent(textwrap.dedent(text), "    ")
    return project("services:\n  s:\n" + body).services["s"]


def rendered(text: str) -> dict[str, Any]:
    return service(text).to_compose()


def round_trip(p: Project) -> Project:
    return Project.parse(p.to_compose(), name=p.name, working_dir=p.working_dir,
                         locator=p.locator)


def errors(text: str) -> list[KompyError]:
    """The errors parsing ``text`` (a whole project) raises, flattened and sorted."""
    with pytest.raises((ComposeError, MultiError)) as info:
        project(text)
    err = info.value
    return list(err.errors) if isinstance(err, MultiError) else [err]


def service_errors(text: str) -> list[KompyError]:
    body = textwrap.indent(textwrap.dedent(text), "    ")
    return errors("services:\n  s:\n" + body)


def where(err: KompyError) -> str:
    """"line:col" of an error, for compact assertions."""
    assert err.location is not None, err
    return f"{err.location.line}:{err.location.column}"
