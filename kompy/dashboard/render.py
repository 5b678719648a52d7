"""The dashboard's Jinja adapter: its HTML templates, shipped in the package, autoescaped.

Every value reaches the page through autoescaping, so a pod name or a log line can never
become markup or script.
"""

from __future__ import annotations

from typing import Any

import jinja2
import markupsafe

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kompy.dashboard", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


def escape(text: str) -> str:
    return str(markupsafe.escape(text))
