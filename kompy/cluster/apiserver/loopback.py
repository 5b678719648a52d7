"""In-process transport from the daemon's own controllers to its API server.

The scheduler, kubelet, controllers and Service proxy run in the same process as the API
server. Over HTTPS each of their requests cost TLS records, HTTP parsing on both sides, a
socket round trip and a server thread: most of the daemon's CPU while it starts pods, CPU the
Docker engine needs at that moment. ``LoopbackAdapter`` is a ``requests`` transport adapter
that hands a request straight to the server's ``Router``: the controllers keep the one
KubeClient every kompy command and real cluster uses (same paths, bodies, Status errors,
watch streams and bearer token); only the wire is gone. Bodies stay JSON bytes, so a caller
never shares an object with the store (the copy semantics of a real API server).

Mounted for the server's URL on the client's Session: ``attach(client, router)``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from kompy.client import KubeClient
from kompy.cluster.apiserver.server import Headers, Reply, Router


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
        headers = cast(Headers, request.headers)
        reply = self.router.handle(str(request.method), target, headers, body)
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
