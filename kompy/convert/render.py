"""The Jinja adapter: finds the templates, renders them, parses their YAML back into objects.

Templates live in the repository's top-level ``templates/`` folder, which the wheel ships as
the package ``kompy.templates``. ``--templates DIR`` puts DIR first on the search path, so a
user's file of the same name replaces the built-in one (a user's ``pod.yaml.j2`` changes every
workload). Undefined names are errors (StrictUndefined).

Values go into templates through the ``value`` filter: ``image: {{ container.image | value }}``.
The filter does not print the value: it prints a placeholder token, and after the YAML is
parsed each placeholder is replaced by the Python value itself. So any value (a string that
looks like a number, a multi-line script, a whole list of env vars) arrives exactly, with no
quoting rules to get wrong; and the YAML the parser sees is only the template's skeleton,
which is the same text for every service of the same shape, so it is parsed once per shape
(parsing YAML is the slowest step of rendering otherwise: ~1 ms per object).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from kompy.errors import ConvertError, InternalError, KompyError, SourceLocation
from kompy.yaml.plain import PlainYamlError, load_all

_PLACEHOLDER = re.compile(r"__kompy_v(\d+)__")
_REPO_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def builtin_templates_dir() -> Path:
    """The built-in templates: package ``kompy.templates`` when installed, else <repo>/templates."""
    try:
        # kompy.templates has no __init__.py: a namespace package, for which files() gives a
        # MultiplexedPath whose str() is not a path; the spec's search locations are.
        spec = importlib.util.find_spec("kompy.templates")
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(location)
            if path.is_dir() and any(path.glob("*.j2")):
                return path
    except (ModuleNotFoundError, TypeError):
        pass
    return _REPO_TEMPLATES


def _bytecode_cache(cache_dir: str | None) -> jinja2.BytecodeCache | None:
    if not cache_dir:
        return None
    folder = Path(cache_dir) / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


class _Values:
    """The per-render table behind the ``value`` filter."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            str(value)  # raises the StrictUndefined error, naming the missing name
        self.items.append(value)
        return f"__kompy_v{len(self.items) - 1}__"


class Renderer:
    """Renders kompy's templates (or a user's overrides) into Kubernetes objects."""

    def __init__(self, user_dir: str | None = None, cache_dir: str | None = None) -> None:
        self.builtin_dir = builtin_templates_dir()
        self.user_dir = Path(user_dir).resolve() if user_dir else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise ConvertError(
                f"templates folder {user_dir} does not exist",
                hint="--templates takes a folder of .j2 files that override the built-in ones",
            )
        search = [str(self.user_dir)] if self.user_dir else []
        search.append(str(self.builtin_dir))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            cache_size=-1,
            # Compiled templates kept next to the compiled validators (the CLI's cache);
            # Jinja keys them by the template source's checksum.
            bytecode_cache=_bytecode_cache(cache_dir),
        )
        self.env.filters["value"] = self._value_filter
        self._values: _Values | None = None
        self._parsed: dict[str, list[Any]] = {}

    def _value_filter(self, value: Any) -> str:
        if self._values is None:
            raise InternalError("the value filter was used outside Renderer.render")
        return self._values.put(value)

    def template_path(self, name: str) -> str:
        """The file a template name resolves to (user override first)."""
        if self.user_dir is not None and (self.user_dir / name).is_file():
            return str(self.user_dir / name)
        return str(self.builtin_dir / name)

    def is_user_template(self, filename: str | None) -> bool:
        return bool(filename and self.user_dir and Path(filename).parent == self.user_dir)

    def render(self, name: str, context: dict[str, Any]) -> list[dict[str, Any]]:
        """Render template ``name`` with ``context``: the objects of its YAML documents."""
        values = _Values()
        self._values = values
        try:
            text = self._render_text(name, context)
        finally:
            self._values = None
        skeleton = self._parse(name, text)
        out: list[dict[str, Any]] = []
        for doc in skeleton:
            if doc is None:
                continue
            obj = _fill(doc, values.items)
            if not isinstance(obj, dict):
                raise self._error(name, None, "a document of the template is not a mapping")
            out.append(obj)
        return out

    def _render_text(self, name: str, context: dict[str, Any]) -> str:
        try:
            template = self.env.get_template(name)
            return template.render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise self._error(exc.filename or self.template_path(exc.name or name), exc.lineno,
                              f"template syntax error: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise ConvertError(f"template {exc.name} not found",
                               hint=f"built-in templates are in {self.builtin_dir}") from None
        except KompyError:
            raise
        except Exception as exc:  # noqa: BLE001 - any error raised while a template runs
            filename, line = _template_frame(sys.exc_info()[2], self)
            raise self._error(filename or self.template_path(name), line,
                              f"template error: {type(exc).__name__}: {exc}") from None

    def _parse(self, name: str, text: str) -> list[Any]:
        cached = self._parsed.get(text)
        if cached is None:
            try:
                cached = load_all(text)
            except PlainYamlError as exc:
                line = f" at line {exc.line} of its output" if exc.line is not None else ""
                raise self._error(self.template_path(name), None,
                                  f"template produced invalid YAML{line}: {exc.problem}"
                                  ) from None
            if len(self._parsed) < 4096:
                self._parsed[text] = cached
        return cached

    def _error(self, filename: str, line: int | None, message: str) -> KompyError:
        location = SourceLocation(filename, line or 0)
        if self.is_user_template(filename):
            return ConvertError(message, location=location,
                                hint="fix this template in your --templates folder")
        return InternalError(message, location=location,
                             hint="a built-in template failed: this is a bug in kompy")


def _template_frame(tb: TracebackType | None, renderer: Renderer) -> tuple[str | None, int | None]:
    """The innermost traceback frame that runs template code (Jinja maps it to template lines)."""
    found: tuple[str | None, int | None] = (None, None)
    for frame, line in _walk(tb):
        filename = frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, line)
    return found


def _walk(tb: TracebackType | None) -> Iterator[tuple[Any, int]]:
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _fill(node: Any, values: list[Any]) -> Any:
    """A copy of the parsed skeleton with every placeholder replaced by its value."""
    if isinstance(node, str):
        if node.startswith("__kompy_v") and node.endswith("__"):
            match = _PLACEHOLDER.fullmatch(node)
            if match:
                return _plain(values[int(match.group(1))])
        if "__kompy_v" in node:
            return _PLACEHOLDER.sub(lambda m: _text(values[int(m.group(1))]), node)
        return node
    if isinstance(node, dict):
        return {_fill(k, values): _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    return node


def _plain(value: Any) -> Any:
    """The value as plain data. Values are not copied (builders make fresh ones for each
    object, and nothing mutates an object once rendered); tuples become lists."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, jinja2.Undefined):
        return None
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
