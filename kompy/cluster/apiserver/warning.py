"""Warnings for the client, as kube-apiserver's ``Warning`` response header carries them
(https://kubernetes.io/blog/2020/09/03/warnings/): kubectl prints each as ``Warning: ...``.

Request handling adds them wherever it notices something (admission, dropped unknown
fields) with ``warn``; the router collects those of one request (a context variable, as
k8s.io/apiserver/pkg/warning keeps them in the request's context) and sends them as one
header of RFC 7234 ``299 - "text"`` values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_current: ContextVar[list[str] | None] = ContextVar("kompy_api_warnings", default=None)
# kube-apiserver truncates what it sends; a warning is a sentence, not a document.
MAX_LENGTH = 256


def warn(message: str) -> None:
    collected = _current.get()
    if collected is not None and message not in collected:
        collected.append(message)


@contextlib.contextmanager
def collecting() -> Iterator[list[str]]:
    collected: list[str] = []
    token = _current.set(collected)
    try:
        yield collected
    finally:
        _current.reset(token)


def header(messages: list[str]) -> str:
    """``299 - "a", 299 - "b"``: the quoted-string rules of RFC 9110 section 5.6.4."""
    def quoted(text: str) -> str:
        text = " ".join(text.split())[:MAX_LENGTH]
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ", ".join(f"299 - {quoted(m)}" for m in messages)
