"""Who may use the dashboard: a one-time login token, sessions and their CSRF tokens.

``kompy dashboard`` prints a URL carrying a random token (as Jupyter's and minikube's
dashboards do). The first request with it is exchanged for a session cookie (HttpOnly,
SameSite=Strict) and the token is spent, so a URL left in a terminal's scrollback or a shell
history opens nothing later. Each session has its own CSRF token, which every request that
changes something must carry (a header from htmx, or a form field).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass

COOKIE = "kompy_dashboard"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str


class Gate:
    """The login token, spent once, and the sessions it opened."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self._spent = False
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def login(self, offered: str) -> Session | None:
        """A new session for the right, unspent token; None for any other."""
        with self._lock:
            if self._spent or not hmac.compare_digest(offered.encode(), self.token.encode()):
                return None
            self._spent = True
            session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
            self._sessions[session.id] = session
            return session

    def session(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        with self._lock:
            # Compared in constant time, one by one: there are a handful of sessions at most.
            for known in self._sessions.values():
                if hmac.compare_digest(known.id.encode(), cookie.encode()):
                    return known
        return None

    @staticmethod
    def csrf_ok(session: Session, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(session.csrf.encode(),
                                                     str(offered).encode())


def cookie_header(session: Session) -> str:
    """The Set-Cookie value: no Max-Age (gone with the browser), not readable by scripts, never
    sent by another site's page, for every path of the dashboard."""
    return f"{COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Strict"


def allowed_hosts(port: int) -> frozenset[str]:
    """Host headers the dashboard answers: its own loopback names. Any other name is a page
    that rebound a DNS name of its own to 127.0.0.1 (DNS rebinding): refused."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"})
