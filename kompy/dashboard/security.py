"""The checks in front of every request, as one ASGI middleware: the Host header names this
loopback server (no DNS rebinding), the session cookie is a live session (except for the login
link itself), and every answer carries a strict Content-Security-Policy and no-store caching.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kompy.dashboard.auth import COOKIE, Gate

# Scripts, styles, images and streams from this server alone; no inline script or style, no
# eval (htmx is told not to use it), no frames, no plugins, forms post only here.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",        # the login link's token never leaves in a Referer
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
OPEN_PATHS = ("/login",)


def session_cookie(headers: Headers) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


class Guard:
    def __init__(self, app: ASGIApp, gate: Gate, hosts: frozenset[str]) -> None:
        self.app = app
        self.gate = gate
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in HEADERS.items():
                    headers[key] = value
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    def _refusal(self, scope: Scope) -> Any:
        headers = Headers(scope=scope)
        if headers.get("host", "").lower() not in self.hosts:
            return PlainTextResponse("unknown host: the dashboard answers on 127.0.0.1 only\n",
                                     status_code=421)
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return PlainTextResponse("method not allowed\n", status_code=405)
        if scope["path"] in OPEN_PATHS:
            return None
        session = self.gate.session(session_cookie(headers))
        if session is None:
            return PlainTextResponse(
                "not logged in: open the login URL that `kompy dashboard` printed (it works "
                "once; run the command again for a new one)\n", status_code=401)
        scope.setdefault("state", {})["session"] = session
        return None
