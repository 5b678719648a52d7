"""ProjectLocator: positions after merge, extends and include."""

from __future__ import annotations

from kompy.compose.locator import ProjectLocator
from kompy.errors import SourceLocation
from kompy.yaml.reader import load_yaml


def locator(*texts: str) -> ProjectLocator:
    found = ProjectLocator()
    for i, text in enumerate(texts):
        found.add_document(load_yaml(text, f"f{i}.yaml")[0])
    return found


def test_later_files_win_and_ancestors_are_used() -> None:
    found = locator("services:\n  web:\n    image: a\n    ports: ['1:1']\n",
                    "services:\n  web:\n    image: b\n")
    assert found.locate(("services", "web", "image")) == SourceLocation("f1.yaml", 3, 5)
    assert found.locate(("services", "web", "ports", 0)) == SourceLocation("f0.yaml", 4, 13)
    # An appended item that exists in no file falls back to its list's key.
    assert found.locate(("services", "web", "ports", 5)) == SourceLocation("f0.yaml", 4, 5)
    assert found.locate(()) == SourceLocation("f0.yaml")


def test_redirect_for_extends() -> None:
    found = locator("services:\n  base:\n    image: a\n  web:\n    extends: base\n")
    found.redirect(("services", "web"), found, ("services", "base"))
    assert found.locate(("services", "web", "image")) == SourceLocation("f0.yaml", 3, 5)


def test_graft_for_include() -> None:
    main = locator("services:\n  web: {image: a}\n")
    child = locator("\n\nservices:\n  api:\n    image: b\n")
    main.graft(("services", "api"), child, ("services", "api"))
    assert main.locate(("services", "api", "image")) == SourceLocation("f0.yaml", 5, 5)
    assert main.locate(("services", "web", "image")) == SourceLocation("f0.yaml", 2, 9)
