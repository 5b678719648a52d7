"""Opening a WebSocket to a Kubernetes API server with a client's credentials and TLS
settings (what client-go's ``transport/websocket`` does for exec, attach and port-forward).

It takes what a KubeClient holds (its kubeconfig Connection and Credentials) without
importing the REST client, so rest.py can offer ``exec`` on top of it.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

from kompy.client import websocket
from kompy.client.auth import Credentials, stream_proxy
from kompy.client.errors import ApiError, error_from_status
from kompy.client.kubeconfig import Connection
from kompy.errors import ClusterError


class Client(Protocol):
    """What of a KubeClient opening a stream needs."""

    @property
    def conn(self) -> Connection: ...
    @property
    def credentials(self) -> Credentials: ...


def ssl_context(conn: Connection, cert: tuple[str, str] | None) -> ssl.SSLContext:
    """The TLS settings of the kubeconfig: its CA (or none checked), a client certificate."""
    if conn.verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(conn.verify, str):
        context = ssl.create_default_context(cafile=conn.verify)
    else:
        context = ssl.create_default_context()
    if cert:
        context.load_cert_chain(cert[0], cert[1])
    return context


def open_websocket(client: Client, path: str, params: Sequence[tuple[str, str]],
                   subprotocols: Sequence[str], *, name: str = "websocket",
                   timeout: float = 30.0) -> websocket.WebSocket:
    """A WebSocket to ``path`` on the client's server, offering ``subprotocols``; an ApiError
    (the server's Status) when it refuses, after one retry with refreshed credentials on a
    401 (an exec plugin run again), as every other request of the client."""
    conn = client.conn
    proxy = stream_proxy(conn)
    url = conn.server.rstrip("/") + path + (f"?{urlencode(list(params))}" if params else "")
    for attempt in (1, 2):
        headers: dict[str, str] = {"User-Agent": "kompy"}
        used = client.credentials.authorize(headers)
        context = ssl_context(conn, client.credentials.client_cert(used)) \
            if url.startswith("https") else None
        try:
            return websocket.connect(url, headers=headers, subprotocols=subprotocols,
                                     ssl_context=context, server_hostname=conn.tls_server_name,
                                     timeout=timeout, name=name, proxy=proxy)
        except websocket.UpgradeRefused as refused:
            if refused.status == 401 and attempt == 1 and \
                    client.credentials.unauthorized(used):
                continue
            raise _api_error(refused) from None
        except websocket.WebSocketError as error:
            raise ClusterError(f"no cluster answers at {conn.server} ({error})",
                               hint="for kompy's built-in cluster: `kompy cluster start`; "
                                    "else check the kubeconfig's server address") from error
    raise AssertionError("unreachable")


def _api_error(refused: websocket.UpgradeRefused) -> ApiError:
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(refused.body or b"null")
    text = refused.body.decode(errors="replace").strip()[:200]
    return error_from_status(refused.status, body,
                             f"unable to upgrade connection: {text or refused.status}")
