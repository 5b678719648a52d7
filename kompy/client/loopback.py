"""In-process transport from the built-in cluster's own controllers to its API server.

The scheduler, kubelet, controllers and Service proxy run in the same process as the API
server. Over HTTPS each of their requests cost TLS records, HTTP parsing on both sides, a
socket round trip and a server thread: most of the daemon's CPU while it starts pods, CPU the
Docker engine needs at that moment. ``LoopbackAdapter`` is a ``requests`` transport adapter
that hands a request straight to the server's ``Router``: the controllers keep the one
KubeClient every kompy command and real cluster uses (same paths, bodies, Status errors,
watch streams and bearer token); only the wire is gone. Bodies stay JSON bytes, so a caller
never shares an object with the store (the copy semantics of a real API server).

Mounted for the server's URL on the client's Session: ``attach(client, router)``. It lives
beside the client because it is a ``requests`` transport (requests is the client's library);
the router is anything with the API server's ``handle`` (kompy.cluster.apiserver.server).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from kompy.client.rest import KubeClient


class Reply(Protocol):
    """An answer of the router: a body, or a stream of chunks (watches, logs)."""

    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def stream(self) -> Iterator[bytes] | None: ...


class Router(Protocol):
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply: ...


class _StreamBody:
    """The ``raw`` of a streamed answer: what ``Response.iter_content`` and ``close`` use."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def stream(self, amt: int | None = None, decode_content: bool = True) -> Iterator[bytes]:
        for chunk in self._chunks:
            if chunk:
                yield chunk

    def read(self, amt: int | None = None) -> bytes:
        return b"".join(self.stream())

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close:
            close()  # ends the watch's store cursor or the log stream behind it


class LoopbackAdapter(BaseAdapter):
    def __init__(self, router: Router) -> None:
        super().__init__()
        self.router = router

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        url = urlsplit(str(request.url))
        target = url.path + (f"?{url.query}" if url.query else "")
        raw = request.body
        body = raw.encode() if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
        reply = self.router.handle(str(request.method), target, request.headers, body)
        return _response(request, reply)

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, reply: Reply) -> requests.Response:
    response = requests.Response()
    response.status_code = reply.status
    response.reason = HTTPStatus(reply.status).phrase
    response.headers = CaseInsensitiveDict({"Content-Type": reply.content_type, **reply.headers})
    response.url = str(request.url)
    response.request = request
    response.encoding = "utf-8"
    response.raw = _StreamBody(reply.stream) if reply.stream is not None \
        else io.BytesIO(reply.body)
    return response


def attach(client: KubeClient, router: Router) -> KubeClient:
    """Route every request of ``client`` to its server in-process; returns the client."""
    client.session.mount(client.server, LoopbackAdapter(router))
    # Proxies and ~/.netrc cannot apply to an in-process call, and requests looks them up
    # on every request while trust_env is on.
    client.session.trust_env = False
    return client
