"""How a service's field declares its Compose key: the parser that reads every syntax of the
key into the field's value, and the renderer that writes the value back in the long form.

Each field of :class:`kompy.model.service.Service` that is a Compose key is declared with
:func:`key`, naming the parser and renderer of its value type (in that type's module);
``Service.parse`` and ``Service.to_compose`` walk the table :func:`compose_keys` makes of
those declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kompy.errors import KeyPath
from kompy.model.base import Locator

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ComposeKey:
    """One Compose key of a service: the field it fills, and how it is read and written."""

    name: str  # the key in the Compose file ("env_file")
    field: str  # the field it fills ("env_files")
    parse: Callable[..., Any]  # (raw, at, path[, base_dir]) -> the field's value
    render: Callable[[Any], Any]  # the field's value -> the long form
    # ``parse`` also takes the folder that relative paths are resolved against.
    paths: bool = False
    # Rendered whenever not None (an explicitly empty command, init: false, scale: 0);
    # other keys are left out when empty or false, as compose-go's ``omitempty`` does.
    keep_none: bool = False


def key(parse: Callable[..., Any], render: Callable[[Any], Any] | None = None, *,
        default: Any = None, factory: Callable[[], Any] | None = None, name: str = "",
        paths: bool = False, keep_none: bool = False) -> Any:
    """A dataclass field that is the Compose key ``name`` (by default the field's name)."""
    spec = ComposeKey(name, "", parse, render or same, paths, keep_none)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"compose": spec})
    return dataclasses.field(default=default, metadata={"compose": spec})


def compose_keys(cls: type) -> dict[str, ComposeKey]:
    """The Compose keys declared by the fields of dataclass ``cls``, by key, in key order
    (the order `docker compose config` prints them in)."""
    found = [dataclasses.replace(f.metadata["compose"], name=f.metadata["compose"].name or f.name,
                                 field=f.name)
             for f in dataclasses.fields(cls) if "compose" in f.metadata]
    return {spec.name: spec for spec in sorted(found, key=lambda spec: spec.name)}


def optional(parse: Callable[..., T]) -> Callable[..., T | None]:
    """``parse`` for a key whose null value means "not set"."""

    def parse_optional(raw: object, at: Locator, path: KeyPath, *args: Any) -> T | None:
        return None if raw is None else parse(raw, at, path, *args)

    return parse_optional


# -- renderers: a field's value -> the long form ---------------------------------------------

def same(value: Any) -> Any:
    return value


def as_list(value: Any) -> Any:
    return list(value)


def as_dict(value: Any) -> Any:
    return dict(value)


def long_form(value: Any) -> Any:
    """A value type's own long form."""
    return value.to_compose()


def each_long_form(value: Any) -> Any:
    return [item.to_compose() for item in value]


def long_form_by_name(value: Any) -> Any:
    return {name: item.to_compose() for name, item in value.items()}
